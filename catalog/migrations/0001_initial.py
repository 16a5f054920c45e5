"""Application moves from monitoring to the catalogue: state only.

The table ``monitoring_application`` (created by monitoring 0001) stays as it is,
with its rows, sequence, constraints and the foreign keys that point at it;
monitoring 0006 and tickets 0016 move their references in the state only.
The content type is renamed so that permissions granted on applications stay.
"""

from django.db import migrations, models


def rename_content_type(apps, schema_editor, old="monitoring", new="catalog"):
    content_type = apps.get_model("contenttypes", "ContentType")
    if not content_type.objects.filter(app_label=new, model="application").exists():
        content_type.objects.filter(app_label=old, model="application").update(app_label=new)


def restore_content_type(apps, schema_editor):
    rename_content_type(apps, schema_editor, old="catalog", new="monitoring")


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        ("monitoring", "0005_alertmanager_push"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="Application",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("name", models.CharField(max_length=200)),
                        ("slug", models.SlugField(max_length=100, unique=True)),
                        ("environment", models.CharField(default="production", max_length=50)),
                        (
                            "criticality",
                            models.CharField(
                                choices=[("high", "High"), ("medium", "Medium"), ("low", "Low")],
                                default="medium",
                                max_length=8,
                            ),
                        ),
                        ("owner_tier", models.PositiveSmallIntegerField(default=2)),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                        ("version", models.PositiveIntegerField(default=1)),
                    ],
                    options={
                        "db_table": "monitoring_application",
                        "ordering": ["name", "id"],
                        "constraints": [
                            models.CheckConstraint(
                                condition=models.Q(("owner_tier__gte", 1), ("owner_tier__lte", 3)),
                                name="application_owner_tier_1_3",
                            )
                        ],
                    },
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(rename_content_type, restore_content_type, elidable=True),
    ]
