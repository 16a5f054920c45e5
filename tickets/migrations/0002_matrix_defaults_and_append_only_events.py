from django.db import migrations

ITIL = {
    ("high", "high"): 1, ("high", "medium"): 2, ("high", "low"): 3,
    ("medium", "high"): 2, ("medium", "medium"): 3, ("medium", "low"): 4,
    ("low", "high"): 3, ("low", "medium"): 4, ("low", "low"): 5,
}

APPEND_ONLY_SQL = """
CREATE OR REPLACE FUNCTION tickets_event_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'tickets_ticketevent is append-only (% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS tickets_event_append_only ON tickets_ticketevent;
CREATE TRIGGER tickets_event_append_only
    BEFORE UPDATE OR DELETE ON tickets_ticketevent
    FOR EACH ROW EXECUTE FUNCTION tickets_event_append_only();
"""
DROP_SQL = """
DROP TRIGGER IF EXISTS tickets_event_append_only ON tickets_ticketevent;
DROP FUNCTION IF EXISTS tickets_event_append_only();
"""


def seed_matrix(apps, schema_editor):
    Cell = apps.get_model("tickets", "PriorityMatrixCell")
    for (impact, urgency), priority in ITIL.items():
        Cell.objects.get_or_create(impact=impact, urgency=urgency, defaults={"priority": priority})


def install_trigger(apps, schema_editor):
    # The audit trail refuses UPDATE and DELETE at the database, for every role.
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(APPEND_ONLY_SQL, params=None)


def remove_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP_SQL, params=None)


class Migration(migrations.Migration):
    dependencies = [("tickets", "0001_initial")]

    operations = [
        migrations.RunPython(seed_matrix, migrations.RunPython.noop),
        migrations.RunPython(install_trigger, remove_trigger),
    ]
