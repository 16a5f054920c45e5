"""The knowledge base: search for agents, editing for managers."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET

from helpdesk import roles
from helpdesk.pages import agent_required, manager_required, paginate, see_other
from helpdesk.versioning import versioned_update
from tickets.forms import KnownIssueForm, KnownIssueSearchForm
from tickets.models import KnownIssue
from tickets.selectors import scoped


@agent_required
@require_GET
def known_issues(request: HttpRequest) -> HttpResponse:
    """The knowledge base: search as you type, most used first."""
    form = KnownIssueSearchForm(request.GET)
    if not form.is_valid():
        return render(request, "tickets/known_issues.html", {"form": form}, status=400)
    query = form.cleaned_data["q"]
    filters = {"q": query} if query else {"ordering": "-usage_count"}
    issues = scoped.known_issue_list_for(user=request.user, filters=filters).select_related("application", "category")
    context = {"form": form, "page": paginate(request, issues), "can_edit": roles.is_manager(request.user)}
    if request.htmx:
        return render(request, "tickets/partials/known_issue_results.html", context)
    return render(request, "tickets/known_issues.html", context)


@manager_required
def known_issue_edit(request: HttpRequest, known_issue_id: int | None = None) -> HttpResponse:
    issue = None
    if known_issue_id is not None:
        issue = KnownIssue.objects.filter(pk=known_issue_id).first()
        if issue is None:
            raise Http404
    form = KnownIssueForm(request.POST or None, instance=issue)
    if request.method == "POST":
        if form.is_valid():
            # An edit counts in the version (API clients holding the old ETag get a 412).
            saved = (
                versioned_update(instance=issue, changes={f: form.cleaned_data[f] for f in form.changed_data})
                if issue is not None
                else form.save()
            )
            messages.success(request, f"Known issue “{saved.title}” saved.")
            return see_other(f"{reverse('known-issues')}?q=")
        return render(request, "tickets/known_issue_form.html", {"form": form, "issue": issue}, status=400)
    return render(request, "tickets/known_issue_form.html", {"form": form, "issue": issue})
