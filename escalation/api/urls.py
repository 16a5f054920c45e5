"""The escalation API (under /api/v1/): rules and webhook endpoints."""

from django.urls import include, path

from escalation.api.views import EscalationRuleViewSet, WebhookEndpointViewSet
from helpdesk.api.routers import AppRouter

router = AppRouter()
router.register("escalation-rules", EscalationRuleViewSet, basename="escalation-rule")
router.register("webhooks", WebhookEndpointViewSet, basename="webhook")

urlpatterns = [path("", include(router.urls))]
