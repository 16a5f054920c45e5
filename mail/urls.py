"""Mail pages (included by name from helpdesk/urls.py)."""

from django.urls import path

from mail import views

urlpatterns = [
    path("messages/<int:message_id>/original/", views.message_original, name="mail-message-original"),
]
