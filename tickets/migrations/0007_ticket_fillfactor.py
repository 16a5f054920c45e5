from django.db import migrations

# Tickets are updated many times (every change bumps the version). Leaving 15 %
# of each heap page free lets an UPDATE that changes no indexed column (an SLA
# breach mark, a note's version bump) stay on its page as a HOT update: no new
# entries in the ticket table's indexes, less WAL. Applies to pages written from
# now on; PostgreSQL only (a storage parameter, no schema change).
FILLFACTOR = 85


def set_fillfactor(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"ALTER TABLE tickets_ticket SET (fillfactor = {FILLFACTOR})", params=None)


def reset_fillfactor(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE tickets_ticket RESET (fillfactor)", params=None)


class Migration(migrations.Migration):
    dependencies = [("tickets", "0006_ticket_created_default")]

    operations = [migrations.RunPython(set_fillfactor, reset_fillfactor)]
