"""What the audit trail announces to the floors above.

``events_recorded`` is sent by ``tickets.events`` for every batch of events it
writes, inside the transaction of the change (``kind``, ``rows`` of
``(ticket_id, actor_id, data)``). A receiver that writes rows of its own (the
mail app's messages into the outbox) writes them in that same transaction, so
they exist exactly when the change committed. Receivers must be set-based (an
escalation tick announces thousands of rows at once) and must not change tickets.
"""

from django.dispatch import Signal

events_recorded = Signal()
