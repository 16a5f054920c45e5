"""Notification (the outbox) moves from escalation to its own app: state only.

The table ``escalation_notification`` stays as it is, with its rows, sequence and
indexes; escalation 0007 first drops the foreign key constraint from ``rule_id`` to
the rules (the outbox sits below escalation now: ``rule_id`` is a plain integer),
then gives the model up in the state. The content type is renamed so that
permissions granted on notifications stay.
"""

import django.db.models.deletion
from django.db import migrations, models


def rename_content_type(apps, schema_editor, old="escalation", new="notifications"):
    content_type = apps.get_model("contenttypes", "ContentType")
    if not content_type.objects.filter(app_label=new, model="notification").exists():
        content_type.objects.filter(app_label=old, model="notification").update(app_label=new)


def restore_content_type(apps, schema_editor):
    rename_content_type(apps, schema_editor, old="notifications", new="escalation")


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        ("tickets", "0017_event_kind_check"),
        # The last escalation migration that reads escalation.Notification (0006) and
        # the one that drops the rule foreign key's constraint (0007).
        ("escalation", "0007_notification_rule_without_constraint"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="Notification",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("channel", models.CharField(choices=[("email", "E-mail"), ("webhook", "Webhook")], max_length=10)),
                        ("target", models.CharField(max_length=500)),
                        ("subject", models.CharField(max_length=300)),
                        ("body", models.TextField(blank=True)),
                        ("payload", models.JSONField(blank=True, default=dict)),
                        (
                            "ticket",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="notifications",
                                to="tickets.ticket",
                            ),
                        ),
                        ("rule_id", models.BigIntegerField(blank=True, db_index=True, null=True)),
                        (
                            "status",
                            models.CharField(
                                choices=[("pending", "Pending"), ("sent", "Sent"), ("failed", "Failed")],
                                default="pending",
                                max_length=10,
                            ),
                        ),
                        ("attempts", models.PositiveSmallIntegerField(default=0)),
                        ("next_attempt_at", models.DateTimeField()),
                        ("last_error", models.TextField(blank=True)),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                        ("sent_at", models.DateTimeField(blank=True, null=True)),
                    ],
                    options={
                        "db_table": "escalation_notification",
                        "ordering": ["id"],
                        "indexes": [
                            models.Index(
                                condition=models.Q(("status", "pending")),
                                fields=["next_attempt_at"],
                                name="notification_due",
                            )
                        ],
                    },
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(rename_content_type, restore_content_type, elidable=True),
    ]
