"""Pieces every benchmark shares: Django set up on the bench database, and a
connection to the PostgreSQL server itself (to create or drop that database)."""

from __future__ import annotations

import os
from typing import Any


def configure_django(*, database_url: str, broker: str) -> None:
    os.environ["DATABASE_URL"] = database_url
    os.environ["CELERY_BROKER_URL"] = broker
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")
    # Production runs without DEBUG (no query log kept in memory).
    os.environ["DEBUG"] = "false"
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()


def server_connection(url: str) -> tuple[Any, dict[str, Any]]:
    """An autocommit connection to the server's `postgres` database, and the parsed URL."""
    import dj_database_url
    import psycopg2

    cfg = dj_database_url.parse(url)
    conn = psycopg2.connect(
        dbname="postgres",
        user=cfg["USER"] or None,
        password=cfg["PASSWORD"] or None,
        host=cfg["HOST"] or None,
        port=cfg["PORT"] or None,
    )
    conn.autocommit = True
    return conn, cfg
