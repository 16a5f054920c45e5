"""The core's API: authentication, tokens and users (under /api/v1/)."""

from django.urls import path

from helpdesk.api.tokens import ApiLogoutView, ApiTokenListView, ApiTokenRevokeView
from helpdesk.api.users import MeView, TokenView, UserListCreateView

urlpatterns = [
    path("auth/token/", TokenView.as_view(), name="auth-token"),
    path("auth/tokens/", ApiTokenListView.as_view(), name="auth-token-list"),
    path("auth/tokens/<int:pk>/", ApiTokenRevokeView.as_view(), name="auth-token-revoke"),
    path("auth/logout/", ApiLogoutView.as_view(), name="auth-logout"),
    path("users/", UserListCreateView.as_view(), name="user-list"),
    path("users/me/", MeView.as_view(), name="user-me"),
]
