"""The root URLconf. Each app owns its ``urls.py`` (pages) and ``api/urls.py`` (under
/api/v1/); they are included by name, so the core imports no app above it."""

from csp.constants import UNSAFE_INLINE
from csp.decorators import csp_update
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from helpdesk import ops, views
from helpdesk.api.routers import api_root_urls

# The browsable API root lists every app router's list route, in this order.
API_ROOT = {
    "tickets": "ticket-list",
    "categories": "category-list",
    "known-issues": "known-issue-list",
    "applications": "application-list",
    "metric-sources": "metric-source-list",
    "monitors": "monitor-list",
    "alerts": "alert-list",
    "silences": "silence-list",
    "escalation-rules": "escalation-rule-list",
    "webhooks": "webhook-list",
    "mailboxes": "mailbox-list",
}

api_v1 = [
    path("", include("helpdesk.api.urls")),
    path("", include("tickets.api.urls")),
    path("", include("dashboard.api.urls")),
    path("", include("monitoring.api.urls")),
    path("", include("escalation.api.urls")),
    path("", include("mail.api.urls")),
    *api_root_urls(API_ROOT),
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
    # Mail providers' inbound webhooks (machine endpoints with the provider's own auth).
    path("mail/providers/", include("mail.provider_urls")),
    # Pages
    path("", views.home, name="home"),
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", views.LogoutView.as_view(), name="logout"),
    path("", include("dashboard.urls")),
    path("monitoring/", include("monitoring.urls")),
    path("mail/", include("mail.urls")),
    path("account/", views.account, name="account"),
    path("", include("tickets.urls")),
]
