from csp.constants import UNSAFE_INLINE
from csp.decorators import csp_update
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.routers import DefaultRouter

from dashboard.api.views import DashboardView
from dashboard.views import manager_dashboard
from escalation.api.views import EscalationRuleViewSet, WebhookEndpointViewSet
from helpdesk import ops, views
from helpdesk.api.tokens import ApiLogoutView, ApiTokenListView, ApiTokenRevokeView
from helpdesk.api.users import MeView, TokenView, UserListCreateView
from monitoring.api.push import AlertmanagerWebhookView, SamplesPushView
from monitoring.api.views import AlertViewSet, ApplicationViewSet, MetricSourceViewSet, MonitorViewSet, SilenceViewSet
from tickets.api.views import (
    AttachmentDownloadView,
    BusinessCalendarView,
    CategoryViewSet,
    KnownIssueViewSet,
    PriorityMatrixView,
    SlaPoliciesView,
    TicketViewSet,
)

router = DefaultRouter()
router.register("tickets", TicketViewSet, basename="ticket")
router.register("categories", CategoryViewSet, basename="category")
router.register("known-issues", KnownIssueViewSet, basename="known-issue")
router.register("applications", ApplicationViewSet, basename="application")
router.register("metric-sources", MetricSourceViewSet, basename="metric-source")
router.register("monitors", MonitorViewSet, basename="monitor")
router.register("alerts", AlertViewSet, basename="alert")
router.register("silences", SilenceViewSet, basename="silence")
router.register("escalation-rules", EscalationRuleViewSet, basename="escalation-rule")
router.register("webhooks", WebhookEndpointViewSet, basename="webhook")

api_v1 = [
    path("auth/token/", TokenView.as_view(), name="auth-token"),
    path("auth/tokens/", ApiTokenListView.as_view(), name="auth-token-list"),
    path("auth/tokens/<int:pk>/", ApiTokenRevokeView.as_view(), name="auth-token-revoke"),
    path("auth/logout/", ApiLogoutView.as_view(), name="auth-logout"),
    path("users/", UserListCreateView.as_view(), name="user-list"),
    path("users/me/", MeView.as_view(), name="user-me"),
    path("priority-matrix/", PriorityMatrixView.as_view(), name="priority-matrix"),
    path("sla-policies/", SlaPoliciesView.as_view(), name="sla-policies"),
    path("business-calendar/", BusinessCalendarView.as_view(), name="business-calendar"),
    path("dashboard/", DashboardView.as_view(), name="dashboard"),
    path("attachments/<str:pk>/", AttachmentDownloadView.as_view(), name="attachment-download"),
    path("monitoring/alertmanager/", AlertmanagerWebhookView.as_view(), name="monitoring-alertmanager"),
    path("monitoring/samples/", SamplesPushView.as_view(), name="monitoring-samples"),
    path("", include(router.urls)),
]

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # Swagger UI sets inline styles; its page shows no user content, so only it may.
    path(
        "api/docs/",
        csp_update({"style-src": [UNSAFE_INLINE]})(SpectacularSwaggerSplitView.as_view(url_name="schema")),
        name="api-docs",
    ),
    # Pages that do not name an icon (the admin's) make browsers ask for this one.
    path("favicon.ico", views.favicon),
    path("healthz", ops.healthz, name="healthz"),
    path("readyz", ops.readyz, name="readyz"),
    path("metrics", ops.metrics, name="metrics"),
    # Pages
    path("", views.home, name="home"),
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", views.LogoutView.as_view(), name="logout"),
    path("dashboard/", manager_dashboard, name="manager-dashboard"),
    path("monitoring/", include("monitoring.urls")),
    path("", include("tickets.urls")),
]
