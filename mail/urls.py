"""Mail pages: managers' mailboxes and quarantine, agents' original messages (the API is
under /api/v1/; included by name from helpdesk/urls.py)."""

from django.urls import path

from mail import views

urlpatterns = [
    path("mailboxes/", views.mailbox_list, name="mail-mailboxes"),
    path("mailboxes/new/", views.mailbox_new, name="mail-mailbox-new"),
    path("mailboxes/<int:mailbox_id>/", views.mailbox_edit, name="mail-mailbox-edit"),
    path("mailboxes/<int:mailbox_id>/enable/", views.mailbox_enable, name="mail-mailbox-enable"),
    path("mailboxes/<int:mailbox_id>/rotate-token/", views.mailbox_rotate_token, name="mail-mailbox-rotate-token"),
    path("mailboxes/<int:mailbox_id>/test/", views.mailbox_test, name="mail-mailbox-test"),
    path("quarantine/", views.quarantine_list, name="mail-quarantine"),
    path("quarantine/<int:message_id>/retry/", views.quarantine_retry, name="mail-quarantine-retry"),
    path("quarantine/<int:message_id>/discard/", views.quarantine_discard, name="mail-quarantine-discard"),
    path("quarantine/<int:message_id>/raw/", views.quarantine_raw, name="mail-quarantine-raw"),
    path("messages/<int:message_id>/original/", views.message_original, name="mail-message-original"),
]
