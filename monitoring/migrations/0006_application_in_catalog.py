"""Application leaves monitoring for the catalogue: state only. Its table keeps
the name monitoring_application (catalog.Application's db_table), so nothing is
renamed, recreated or copied; monitors, alerts and silences point at it as before."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("catalog", "0001_initial"),
        ("monitoring", "0005_alertmanager_push"),
        # Tickets must stop naming monitoring.Application before it leaves the state.
        ("tickets", "0016_application_in_catalog"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="monitor",
                    name="application",
                    field=models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="monitors",
                        to="catalog.application",
                    ),
                ),
                migrations.AlterField(
                    model_name="alert",
                    name="application",
                    field=models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="alerts",
                        to="catalog.application",
                    ),
                ),
                migrations.AlterField(
                    model_name="silence",
                    name="application",
                    field=models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="silences",
                        to="catalog.application",
                    ),
                ),
                migrations.DeleteModel(name="Application"),
            ],
            database_operations=[],
        ),
    ]
