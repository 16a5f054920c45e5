"""Writing the outbox: inserting pending rows and handing them to the workers.

Rows are written in the transaction of the change that causes them and handed
to Celery only after it commits (never sent inline); if the broker is down they
wait for the sweep (``notifications.delivery.notifications_resend_due``). What a
row says and who receives it is the writer's business (escalation's notify specs,
the coming mail app); this module takes finished rows.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

from django.db import transaction
from django.utils import timezone

from helpdesk.db import insert_rows
from helpdesk.tasks import enqueue
from notifications.models import Notification

# The Celery task that delivers a batch of ids. Its name predates this app and is
# kept: messages already queued under it must still find their task.
DELIVER_TASK = "escalation.deliver_notifications"
BATCH_SIZE = 100
SUBJECT_MAX = Notification._meta.get_field("subject").max_length
TARGET_MAX = Notification._meta.get_field("target").max_length


class OutboxRow(NamedTuple):
    """One row to write, in the column order ``notifications_insert`` inserts.
    A plain tuple, not a model instance: an escalation tick writes tens of thousands."""

    channel: str
    target: str
    subject: str
    body: str
    payload: dict[str, Any]
    ticket_id: int | None = None
    rule_id: int | None = None
    next_attempt_at: datetime.datetime | None = None


NOTIFICATION_FIELDS = OutboxRow._fields


def one_line(text: str, limit: int = SUBJECT_MAX) -> str:
    """``text`` as one header line of at most ``limit`` characters (an ellipsis marks a cut)."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def batches(ids: Sequence[int]) -> Iterable[list[int]]:
    for start in range(0, len(ids), BATCH_SIZE):
        yield list(ids[start : start + BATCH_SIZE])


def enqueue_delivery(ids: list[int]) -> bool:
    """Hand ``ids`` to the workers now. No in-process fallback: the rows are
    committed, the sweep sends them later if the broker does not take them."""
    return enqueue(DELIVER_TASK, fallback=False, notification_ids=ids)


class _Pending:
    """The ids a transaction wrote, handed to the workers when it commits."""

    def __init__(self) -> None:
        self.ids: list[int] = []
        self.ran = False

    def __call__(self) -> None:
        self.ran = True
        for batch in batches(self.ids):
            enqueue_delivery(batch)


def notifications_enqueue_on_commit(ids: Sequence[int]) -> None:
    """Hand ``ids`` to the workers once the current transaction commits, in batches.

    One callback per transaction gathers every id written in it: a transaction
    that writes 1,000 rows in 1,000 calls (1,000 comments, one customer mail
    each) hands over 10 batches of 100, not 1,000 tasks of one row. The callback
    found is always one that will run (a savepoint rolled back takes its own
    callbacks with it, and a new one is registered); ids written in a savepoint
    that rolls back after joining an outer callback are enqueued anyway, and the
    delivery answers "missing" for them."""
    if not ids:
        return
    connection = transaction.get_connection()
    if not connection.in_atomic_block:  # autocommit: the rows are committed already
        for batch in batches(list(ids)):
            enqueue_delivery(batch)
        return
    pending = next(
        (func for _, func, _ in reversed(connection.run_on_commit) if isinstance(func, _Pending) and not func.ran),
        None,
    )
    if pending is None:
        pending = _Pending()
        transaction.on_commit(pending, robust=True)
    pending.ids.extend(ids)


def notifications_insert(*, rows: Iterable[OutboxRow]) -> list[int]:
    """Insert pending rows, due now unless a row says otherwise, and enqueue their
    delivery after the current transaction commits. Returns the new ids, in row order.

    The caller has filled, shortened (``one_line`` for subjects, TARGET_MAX for
    targets) and JSON-cleaned what the rows hold; call it inside the transaction of
    the change that causes the messages, so they roll back with it.
    """
    now = timezone.now()
    prepared = [row if row.next_attempt_at is not None else row._replace(next_attempt_at=now) for row in rows]
    ids = insert_rows(Notification, NOTIFICATION_FIELDS, prepared, returning=True, batch_size=5000)
    notifications_enqueue_on_commit(ids)
    return ids
