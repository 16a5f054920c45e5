"""Tickets and known issues name the catalogue's Application: state only (the
foreign keys already point at the same table, monitoring_application)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("catalog", "0001_initial"),
        ("tickets", "0015_ticket_major"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="ticket",
                    name="application",
                    field=models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="tickets",
                        to="catalog.application",
                    ),
                ),
                migrations.AlterField(
                    model_name="knownissue",
                    name="application",
                    field=models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="known_issues",
                        to="catalog.application",
                    ),
                ),
            ],
            database_operations=[],
        ),
    ]
