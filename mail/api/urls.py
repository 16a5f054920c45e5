"""The mail API (under /api/v1/): mailboxes, inbound raw messages, the quarantine."""

from django.urls import include, path

from helpdesk.api.routers import AppRouter
from mail.api.views import InboundMailView, MailboxViewSet, QuarantineViewSet

router = AppRouter()
router.register("mailboxes", MailboxViewSet, basename="mailbox")
router.register("mail/quarantine", QuarantineViewSet, basename="mail-quarantine")

urlpatterns = [
    path("mail/inbound/", InboundMailView.as_view(), name="mail-inbound"),
    path("", include(router.urls)),
]
