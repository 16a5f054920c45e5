from datetime import time

from django.db import migrations

# The defaults of docs/PRODUCT.md "SLA policies and business calendar": P1 around the clock, P2-P5 in business hours (Mon-Fri 09:00-17:00).
DEFAULT_POLICIES = [
    (1, 15, 4 * 60, False),
    (2, 60, 8 * 60, True),
    (3, 4 * 60, 24 * 60, True),
    (4, 8 * 60, 40 * 60, True),
    (5, 24 * 60, 80 * 60, True),
]


def seed(apps, schema_editor):
    SlaPolicy = apps.get_model("tickets", "SlaPolicy")
    BusinessCalendar = apps.get_model("tickets", "BusinessCalendar")
    for priority, response, resolution, business in DEFAULT_POLICIES:
        SlaPolicy.objects.get_or_create(
            priority=priority,
            defaults={"first_response_minutes": response, "resolution_minutes": resolution, "business_hours": business},
        )
    BusinessCalendar.objects.get_or_create(
        pk=1, defaults={"timezone": "UTC", "working_days": [0, 1, 2, 3, 4], "day_start": time(9), "day_end": time(17)}
    )


class Migration(migrations.Migration):
    dependencies = [("tickets", "0004_sla")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
