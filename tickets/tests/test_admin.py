"""The admin changes tickets and configuration only through the services."""

import pytest

from tickets import services
from tickets.events import EventKind
from tickets.models import PriorityMatrixCell, SlaPolicy, Ticket, TicketEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def ticket(l1, customer):
    return services.ticket_create(actor=l1, title="Printer", requester=customer)


def test_ticket_edit_in_admin_goes_through_the_service(admin_client, ticket):
    page = admin_client.get(f"/admin/tickets/ticket/{ticket.pk}/change/")
    assert page.status_code == 200
    form = page.context["adminform"].form
    data = {name: form[name].value() or "" for name in form.fields}
    data.update(
        {
            "urgency": "high",
            "comments-TOTAL_FORMS": "0",
            "comments-INITIAL_FORMS": "0",
            "events-TOTAL_FORMS": "0",
            "events-INITIAL_FORMS": "0",
        }
    )
    response = admin_client.post(f"/admin/tickets/ticket/{ticket.pk}/change/", data)
    assert response.status_code == 302, response.content[:2000]
    stored = Ticket.objects.get(pk=ticket.pk)
    assert (stored.urgency, stored.priority, stored.version) == ("high", 2, ticket.version + 1)
    kinds = list(TicketEvent.objects.filter(ticket=ticket).values_list("kind", flat=True))
    assert kinds[-3:] == [EventKind.UPDATED, EventKind.PRIORITY_CHANGED, EventKind.SLA_CHANGED]


def test_tickets_and_events_cannot_be_added_or_deleted_in_admin(admin_client, ticket):
    assert admin_client.get("/admin/tickets/ticket/add/").status_code == 403
    assert admin_client.get(f"/admin/tickets/ticket/{ticket.pk}/delete/").status_code == 403
    event = TicketEvent.objects.filter(ticket=ticket).first()
    assert admin_client.get(f"/admin/tickets/ticketevent/{event.pk}/change/").status_code == 200  # view only
    assert admin_client.post(f"/admin/tickets/ticketevent/{event.pk}/change/", {"kind": "x"}).status_code == 403
    assert admin_client.get(f"/admin/tickets/ticketevent/{event.pk}/delete/").status_code == 403
    assert TicketEvent.objects.get(pk=event.pk).kind == EventKind.CREATED


def test_matrix_cell_edit_in_admin_reprioritises_open_tickets(admin_client, ticket, django_capture_on_commit_callbacks):
    cell = PriorityMatrixCell.objects.get_or_create(impact="medium", urgency="medium", defaults={"priority": 3})[0]
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(f"/admin/tickets/prioritymatrixcell/{cell.pk}/change/", {"priority": "1"})
    assert response.status_code == 302
    assert Ticket.objects.get(pk=ticket.pk).priority == 1
    assert TicketEvent.objects.filter(ticket=ticket, kind=EventKind.PRIORITY_CHANGED).count() == 1


def test_sla_policy_edit_in_admin_moves_due_times(admin_client, ticket, django_capture_on_commit_callbacks):
    policy = SlaPolicy.objects.get_or_create(
        priority=3, defaults={"first_response_minutes": 240, "resolution_minutes": 1440, "business_hours": True}
    )[0]
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            f"/admin/tickets/slapolicy/{policy.pk}/change/",
            {"priority": "3", "first_response_minutes": "30", "resolution_minutes": "60", "business_hours": ""},
        )
    assert response.status_code == 302
    stored = Ticket.objects.get(pk=ticket.pk)
    assert (stored.first_response_due_at - stored.created_at).total_seconds() == 30 * 60
    assert (stored.resolution_due_at - stored.created_at).total_seconds() == 60 * 60
    assert TicketEvent.objects.filter(ticket=ticket, kind=EventKind.SLA_CHANGED).exists()
