"""What every page view needs: role checks that answer like the API (login for
anonymous users, 404 for what a role may not see), and pagination."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.core.paginator import Page, Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.utils.functional import cached_property
from django_htmx.http import HttpResponseClientRedirect

from helpdesk import roles
from helpdesk.errors import ServiceError


def _requiring(check: Callable[[Any], bool]) -> Callable:
    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not request.user.is_authenticated:
                htmx = getattr(request, "htmx", None)
                if htmx:
                    # An htmx request (a refresh after the session ended) would swap the
                    # login page into a fragment: send the browser there, back to the page after.
                    page = htmx.current_url_abs_path or request.get_full_path()
                    return HttpResponseClientRedirect(redirect_to_login(page).url)
                return redirect_to_login(request.get_full_path())
            if not check(request.user):
                raise Http404  # as the API: a page a role may not use does not exist for it
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


login_required = _requiring(lambda user: user.is_active)
agent_required = _requiring(roles.is_agent)
manager_required = _requiring(roles.is_manager)
customer_required = _requiring(lambda user: user.is_active and roles.is_customer(user))


class CappedPaginator(Paginator):
    """Counts at most ``cap`` rows (``SELECT count(*) FROM (... LIMIT cap + 1)``): a
    queue of 30,000 active tickets is not counted on every page view. Beyond the
    cap the page says "more than" and offers the pages up to it; filters narrow."""

    def __init__(self, object_list, per_page: int, cap: int) -> None:
        super().__init__(object_list, per_page)
        self.cap = cap

    @cached_property
    def _counted(self) -> int:
        return self.object_list[: self.cap + 1].count()

    @cached_property
    def count(self) -> int:  # type: ignore[override]
        return min(self._counted, self.cap)

    @property
    def capped(self) -> bool:
        return self._counted > self.cap


def paginate(request: HttpRequest, queryset, per_page: int | None = None, *, cap: int | None = None) -> Page:
    """One page of ``queryset`` (``?page=``; a bad or too-high number gives the last page).
    With ``cap``, rows are counted up to it only (long lists: queues)."""
    size = per_page or settings.HELPDESK_PAGE_SIZE
    paginator = Paginator(queryset, size) if cap is None else CappedPaginator(queryset, size, cap)
    return paginator.get_page(request.GET.get("page"))


def error_text(error: ServiceError) -> str:
    """A service error as one sentence for a page message (field errors joined)."""
    detail = error.detail
    if isinstance(detail, dict):
        return " ".join(
            str(p) for problems in detail.values() for p in (problems if isinstance(problems, list) else [problems])
        )
    return str(detail)


def see_other(url: str) -> HttpResponseRedirect:
    """303 after a POST: the browser follows with a GET, and a reload does not post again."""
    response = HttpResponseRedirect(url)
    response.status_code = 303
    return response
