"""The manager dashboard page."""

from django.urls import path

from dashboard import views

urlpatterns = [path("dashboard/", views.manager_dashboard, name="manager-dashboard")]
