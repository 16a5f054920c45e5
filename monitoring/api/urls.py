"""The monitoring API (under /api/v1/): applications (with their health), sources,
monitors, alerts, silences, and the push receivers."""

from django.urls import include, path

from helpdesk.api.routers import AppRouter
from monitoring.api.push import AlertmanagerWebhookView, SamplesPushView
from monitoring.api.views import AlertViewSet, ApplicationViewSet, MetricSourceViewSet, MonitorViewSet, SilenceViewSet

router = AppRouter()
router.register("applications", ApplicationViewSet, basename="application")
router.register("metric-sources", MetricSourceViewSet, basename="metric-source")
router.register("monitors", MonitorViewSet, basename="monitor")
router.register("alerts", AlertViewSet, basename="alert")
router.register("silences", SilenceViewSet, basename="silence")

urlpatterns = [
    path("monitoring/alertmanager/", AlertmanagerWebhookView.as_view(), name="monitoring-alertmanager"),
    path("monitoring/samples/", SamplesPushView.as_view(), name="monitoring-samples"),
    path("", include(router.urls)),
]
