"""One router per app, one API root for all of them.

Each app registers its viewsets on its own :class:`AppRouter` in ``<app>/api/urls.py``
(the root URLconf includes those modules by name, so the core imports no app);
:func:`api_root_urls` serves the browsable root at ``/api/v1/`` from a table of
prefixes and list-route names, as DRF's DefaultRouter would for a single router.
"""

from __future__ import annotations

from django.urls import URLPattern, path
from rest_framework.routers import APIRootView, DefaultRouter
from rest_framework.urlpatterns import format_suffix_patterns


class AppRouter(DefaultRouter):
    """DefaultRouter's routes and ``.json`` suffixes, without a root view of its own."""

    include_root_view = False


def api_root_urls(api_root_dict: dict[str, str]) -> list[URLPattern]:
    """The ``api-root`` view (and its format suffix) listing ``prefix -> URL name``."""
    view = APIRootView.as_view(api_root_dict=api_root_dict)
    return format_suffix_patterns([path("", view, name="api-root")])
