"""Ticket pages: the L1 console, ticket pages, tier queues and the customer portal."""

from django.urls import path

from tickets import views

urlpatterns = [
    path("console/", views.console, name="console"),
    path("queue/", views.queue, name="queue"),
    path("portal/", views.portal, name="portal"),
    path("portal/new/", views.portal_new, name="portal-new"),
    path("tickets/<int:ticket_id>/", views.ticket_page, name="ticket-page"),
]
