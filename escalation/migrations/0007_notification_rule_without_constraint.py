"""The outbox's ``rule_id`` stops being a foreign key in the database: the outbox
moves below escalation (notifications 0001), where it may not point at the rules.
The column and its index stay; only the constraint goes. Deleting a rule still
clears ``rule_id`` (escalation.services.rule_delete does what SET_NULL did)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("escalation", "0006_webhook_endpoints_for_rules"),
    ]

    operations = [
        migrations.AlterField(
            model_name="notification",
            name="rule",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to="escalation.escalationrule",
            ),
        ),
    ]
