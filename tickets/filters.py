"""The ticket and known-issue list filters (docs/API.md "Lists and filters").

Every value is validated by its form field, so junk gives a 400, never a 500
(ids are bounded to the database's bigint range).
"""

from __future__ import annotations

from typing import Any

import django_filters as filters
from django.core.validators import RegexValidator
from django.db.models import Q, QuerySet

from helpdesk.filters import BooleanFilter, IntFilter
from helpdesk.text import parse_id
from tickets import search
from tickets.models import Kind, KnownIssue, Status, Ticket


class StatusInFilter(filters.BaseInFilter, filters.ChoiceFilter):
    """`status=new,open`: each item must be a known status."""


class TicketFilter(filters.FilterSet):
    status = StatusInFilter(field_name="status", choices=Status.choices)
    tier = IntFilter(field_name="tier", max_value=3)
    priority = IntFilter(field_name="priority", max_value=5)
    assignee = filters.CharFilter(
        method="filter_assignee", validators=[RegexValidator(r"^(me|none|[0-9]{1,19})$", "Use a user id, 'me' or 'none'.")]
    )
    requester = IntFilter(field_name="requester_id")
    application = IntFilter(field_name="application_id")
    kind = filters.ChoiceFilter(choices=Kind.choices)
    parent = IntFilter(field_name="parent_id")
    breached = BooleanFilter(field_name="sla_breached")
    q = filters.CharFilter(method="filter_q", max_length=200)
    ordering = filters.OrderingFilter(
        fields=(
            "id",
            "created_at",
            "updated_at",
            "priority",
            "status",
            "tier",
            "resolution_due_at",
            "first_response_due_at",
        )
    )

    class Meta:
        model = Ticket
        fields: list[str] = []

    def __init__(self, *args: Any, request_user: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.request_user = request_user

    def filter_assignee(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        if value == "none":
            return queryset.filter(assignee__isnull=True)
        if value == "me":
            return queryset.filter(assignee_id=getattr(self.request_user, "pk", None))
        user_id = parse_id(value)  # ASCII digits within bigint (the validator allows 19 digits)
        return queryset.filter(assignee_id=user_id) if user_id is not None else queryset.none()

    def filter_q(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        value = value.strip()
        if not value:
            return queryset
        condition = Q(title__icontains=value) | Q(description__icontains=value)
        # "HD-000042", "#42" or "42" also finds that ticket; "²" or "٣" is only text.
        number = parse_id(value.upper().removeprefix("HD-").removeprefix("#"))
        if number is not None:
            condition |= Q(pk=number)
        return queryset.filter(condition)


class KnownIssueFilter(filters.FilterSet):
    """`q` searches as the agent types (tickets.search); `ticket` lists the ones applied to a ticket."""

    q = filters.CharFilter(method="filter_q", max_length=200)
    application = IntFilter(field_name="application_id")
    category = IntFilter(field_name="category_id")
    is_active = BooleanFilter(field_name="is_active")
    ticket = IntFilter(field_name="links__ticket_id")
    ordering = filters.OrderingFilter(fields=("id", "title", "usage_count", "created_at", "updated_at"))

    class Meta:
        model = KnownIssue
        fields: list[str] = []

    def filter_q(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        value = value.strip()
        return search.known_issues_matching(queryset, value) if value else queryset
