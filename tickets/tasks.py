"""Thin, idempotent Celery tasks around the ticket services."""

from celery import shared_task

from helpdesk.models import User
from tickets import services
from tickets.services import sla


@shared_task(name="tickets.reprioritize_open_tickets", acks_late=True)
def reprioritize_open_tickets(actor_id: int | None = None) -> int:
    """Only tickets whose priority differs from the matrix change."""
    actor = User.objects.filter(pk=actor_id).first() if actor_id else None
    return services.tickets_reprioritize(actor=actor)


@shared_task(name="tickets.refresh_due_times", acks_late=True)
def refresh_due_times(priorities: list[int] | None = None) -> int:
    """Only tickets whose due times differ from the SLA configuration change."""
    return sla.tickets_refresh_due_times(priorities=priorities)


@shared_task(name="tickets.autoclose_resolved", acks_late=True)
def autoclose_resolved() -> int:
    return services.tickets_autoclose()


@shared_task(name="tickets.purge_attachment_files", acks_late=True)
def purge_attachment_files() -> int:
    """Files of attachments whose rows are gone (deleted with their comment)."""
    return services.attachment_files_purge()
