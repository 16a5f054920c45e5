"""The move from escalation keeps the rows, their rule and the permissions granted on them."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from helpdesk.models import User
from notifications.models import Notification

pytestmark = pytest.mark.django_db

BEFORE = [("escalation", "0006_webhook_endpoints_for_rules")]


def test_the_move_keeps_rows_rule_ids_and_granted_permissions():
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps
    Rule = old.get_model("escalation", "EscalationRule")
    Row = old.get_model("escalation", "Notification")
    Permission = old.get_model("auth", "Permission")
    OldUser = old.get_model("helpdesk", "User")
    rule = Rule.objects.create(name="r", trigger="idle_for")
    row = Row.objects.create(
        channel="email", target="a@example.com", subject="s", rule=rule, next_attempt_at=timezone.now()
    )
    clerk = OldUser.objects.create(username="clerk", role="manager", is_staff=True)
    clerk.user_permissions.add(
        Permission.objects.get(content_type__app_label="escalation", codename="change_notification")
    )

    if connection.vendor == "postgresql":
        # A real migrate commits each migration; in this test's transaction the rows'
        # deferred foreign key checks must run before escalation 0007 alters the table.
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())

    moved = Notification.objects.get(pk=row.pk)
    assert (moved.target, moved.rule_id) == ("a@example.com", rule.pk)
    assert User.objects.get(pk=clerk.pk).has_perm("notifications.change_notification")
