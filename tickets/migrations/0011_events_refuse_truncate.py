"""The audit trail refuses TRUNCATE too (a statement-level trigger: TRUNCATE
fires no row triggers, so the UPDATE/DELETE guard of 0002 never saw it).

One deliberate way out, for the table owner only (who could disable triggers
anyway): `SET helpdesk.allow_audit_truncate = 'on'` in the session. The test
suite sets it so Django can flush the database between transactional tests.
"""

from django.db import migrations

FUNCTION_SQL = """
CREATE OR REPLACE FUNCTION tickets_event_append_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'TRUNCATE'
       AND current_setting('helpdesk.allow_audit_truncate', true) = 'on'
       AND pg_has_role(current_user, (SELECT relowner FROM pg_class WHERE oid = TG_RELID), 'MEMBER') THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION 'tickets_ticketevent is append-only (% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS tickets_event_no_truncate ON tickets_ticketevent;
CREATE TRIGGER tickets_event_no_truncate
    BEFORE TRUNCATE ON tickets_ticketevent
    FOR EACH STATEMENT EXECUTE FUNCTION tickets_event_append_only();
"""
# Back to 0002's function, which has no way out.
REVERSE_SQL = """
DROP TRIGGER IF EXISTS tickets_event_no_truncate ON tickets_ticketevent;
CREATE OR REPLACE FUNCTION tickets_event_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'tickets_ticketevent is append-only (% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
"""


def install(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FUNCTION_SQL, params=None)


def remove(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(REVERSE_SQL, params=None)


class Migration(migrations.Migration):
    dependencies = [("tickets", "0010_comment_attachments")]

    operations = [migrations.RunPython(install, remove)]
