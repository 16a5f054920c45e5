"""Monitoring pages (the API is under /api/v1/)."""

from django.urls import path

from monitoring import views

urlpatterns = [
    path("", views.applications, name="applications"),
    path("applications/<int:application_id>/", views.application_detail, name="monitoring-application"),
    path("alerts/", views.alert_list, name="monitoring-alerts"),
    path("alerts/<int:alert_id>/acknowledge/", views.alert_acknowledge, name="monitoring-alert-acknowledge"),
    path("silences/", views.silence_list, name="monitoring-silences"),
    path("silences/<int:silence_id>/expire/", views.silence_expire, name="monitoring-silence-expire"),
]
