"""Notification leaves escalation for the notifications app: state only. Its table
keeps the name escalation_notification (notifications.Notification's db_table), so
nothing is renamed, recreated or copied."""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("escalation", "0007_notification_rule_without_constraint"),
        ("notifications", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="Notification")],
            database_operations=[],
        ),
    ]
