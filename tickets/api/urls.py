"""The tickets API (under /api/v1/): tickets, categories, known issues, configuration reads, attachments."""

from django.urls import include, path

from helpdesk.api.routers import AppRouter
from tickets.api.views import (
    AttachmentDownloadView,
    BusinessCalendarView,
    CategoryViewSet,
    KnownIssueViewSet,
    PriorityMatrixView,
    SlaPoliciesView,
    TicketViewSet,
)

router = AppRouter()
router.register("tickets", TicketViewSet, basename="ticket")
router.register("categories", CategoryViewSet, basename="category")
router.register("known-issues", KnownIssueViewSet, basename="known-issue")

urlpatterns = [
    path("priority-matrix/", PriorityMatrixView.as_view(), name="priority-matrix"),
    path("sla-policies/", SlaPoliciesView.as_view(), name="sla-policies"),
    path("business-calendar/", BusinessCalendarView.as_view(), name="business-calendar"),
    path("attachments/<str:pk>/", AttachmentDownloadView.as_view(), name="attachment-download"),
    path("", include(router.urls)),
]
