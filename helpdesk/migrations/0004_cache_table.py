"""The database cache's table (production's default cache, helpdesk.settings), made
by `migrate` in every environment so that no deployment needs `createcachetable`."""

from django.core.management.commands.createcachetable import Command as CreateCacheTable
from django.db import migrations

TABLE = "helpdesk_cache"


def create_cache_table(apps, schema_editor) -> None:
    # Django's own command: the same columns and index, skipped when the table exists.
    command = CreateCacheTable()
    command.verbosity = 0
    command.create_table(schema_editor.connection.alias, TABLE, dry_run=False)


def drop_cache_table(apps, schema_editor) -> None:
    schema_editor.execute(f"DROP TABLE IF EXISTS {schema_editor.quote_name(TABLE)}")


class Migration(migrations.Migration):
    dependencies = [("helpdesk", "0003_user_email_upper")]

    operations = [migrations.RunPython(create_cache_table, drop_cache_table)]
