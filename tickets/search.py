"""Known-issue search, as the agent types.

PostgreSQL: full text over title (weight A), symptoms (B) and resolution steps
(C) in the English configuration, every typed word a prefix ("pass" finds
"password"), best rank first. ``KNOWN_ISSUE_VECTOR`` is the exact expression of
the GIN index of migration 0009, so the planner can use it; a test checks that.

Other databases (SQLite for ``make run``): every typed word must appear, case
insensitively, in one of the three fields; most used first.
"""

from __future__ import annotations

import re

from django.contrib.postgres.search import SearchQuery, SearchRank, SearchVector
from django.db import connections
from django.db.models import Q, QuerySet

from tickets.models import KnownIssue

SEARCH_CONFIG = "english"
KNOWN_ISSUE_VECTOR = (
    SearchVector("title", weight="A", config=SEARCH_CONFIG)
    + SearchVector("symptoms", weight="B", config=SEARCH_CONFIG)
    + SearchVector("resolution_steps", weight="C", config=SEARCH_CONFIG)
)
# Letters and digits only: nothing typed can become tsquery syntax (& | ! : * ( ) ').
_WORD = re.compile(r"[^\W_]+")
MAX_WORDS = 10


def search_words(text: str) -> list[str]:
    return _WORD.findall(text.lower())[:MAX_WORDS]


def full_text_available(db: str) -> bool:
    return connections[db].vendor == "postgresql"


def known_issues_matching(queryset: QuerySet[KnownIssue], text: str) -> QuerySet[KnownIssue]:
    """Known issues matching every word of ``text``, best match first.
    Text without a letter or digit matches nothing."""
    return _ranked(queryset, search_words(text), every=True)


# Suggestions read the words of a whole description; short words say little.
SUGGEST_MIN_LENGTH = 4
SUGGEST_MAX_WORDS = 30


def known_issues_suggested(queryset: QuerySet[KnownIssue], text: str) -> QuerySet[KnownIssue]:
    """Known issues sharing any telling word with ``text`` (a title and
    description being typed), best match first: ranked by how many words and
    where they match. Unlike the search box, one word is enough."""
    words = list(dict.fromkeys(w for w in _WORD.findall(text.lower()) if len(w) >= SUGGEST_MIN_LENGTH))
    return _ranked(queryset, words[:SUGGEST_MAX_WORDS], every=False)


def _ranked(queryset: QuerySet[KnownIssue], words: list[str], *, every: bool) -> QuerySet[KnownIssue]:
    """Every word (``every``) or any of them, each a prefix, best rank first; on
    other databases, substring matches, most used first."""
    if not words:
        return queryset.none()
    if full_text_available(queryset.db):
        joiner = " & " if every else " | "
        query = SearchQuery(joiner.join(f"{w}:*" for w in words), search_type="raw", config=SEARCH_CONFIG)
        return (
            queryset.alias(search=KNOWN_ISSUE_VECTOR)
            .filter(search=query)
            .annotate(rank=SearchRank(KNOWN_ISSUE_VECTOR, query))
            .order_by("-rank", "-usage_count", "id")
        )
    condition = Q()
    for word in words:
        matches = Q(title__icontains=word) | Q(symptoms__icontains=word) | Q(resolution_steps__icontains=word)
        condition = condition & matches if every else condition | matches
    return queryset.filter(condition).order_by("-usage_count", "title", "id")
