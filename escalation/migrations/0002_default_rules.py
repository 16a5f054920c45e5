from django.db import migrations

# Rules that ship with the product (docs/PRODUCT.md "Escalation rules"); managers edit or disable them.
DEFAULT_RULES = [
    {
        "name": "P1/P2 in L1 at half the resolution time: escalate to L2",
        "order": 10,
        "tiers": [1],
        "priorities": [1, 2],
        "trigger": "resolution_elapsed_pct",
        "threshold": 50,
        "escalate_to_tier": 2,
        "notify": ["tier:2"],
        "note": "Escalated automatically: half of the resolution time was used in L1.",
    },
    {
        "name": "Resolution overdue in L2: escalate to L3 and tell managers",
        "order": 20,
        "tiers": [2],
        "trigger": "resolution_overdue",
        "threshold": 0,
        "escalate_to_tier": 3,
        "notify": ["role:manager"],
        "note": "Escalated automatically: the resolution time is over.",
    },
    {
        "name": "P1 unassigned for 15 minutes: tell managers",
        "order": 30,
        "priorities": [1],
        "trigger": "unassigned_for",
        "threshold": 15,
        "notify": ["role:manager"],
    },
    {
        "name": "First response overdue: tell the tier's queue",
        "order": 40,
        "trigger": "first_response_overdue",
        "threshold": 0,
        "notify": ["tier:current"],
    },
]


def create_rules(apps, schema_editor):
    EscalationRule = apps.get_model("escalation", "EscalationRule")
    for rule in DEFAULT_RULES:
        EscalationRule.objects.get_or_create(name=rule["name"], defaults=rule)


class Migration(migrations.Migration):
    dependencies = [("escalation", "0001_initial")]

    operations = [migrations.RunPython(create_rules, migrations.RunPython.noop)]
