from celery import shared_task

from helpdesk.models import User
from tickets import services


@shared_task(name="tickets.reprioritize_open_tickets", acks_late=True)
def reprioritize_open_tickets(actor_id: int | None = None) -> int:
    """Idempotent: only tickets whose priority differs from the matrix change."""
    actor = User.objects.filter(pk=actor_id).first() if actor_id else None
    return services.tickets_reprioritize(actor=actor)
