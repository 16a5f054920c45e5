"""Monitoring pages (the API is under /api/v1/)."""

from django.urls import path

from monitoring import views

urlpatterns = [
    path("", views.applications, name="applications"),
]
