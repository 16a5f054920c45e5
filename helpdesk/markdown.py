"""Markdown for ticket descriptions and comments, rendered and sanitised.

Input is untrusted (customers write it). Markdown is rendered first, then the
HTML is cleaned by nh3 with an allow-list: no raw HTML survives beyond the
tags below, links keep only http, https and mailto URLs (so `javascript:` in
any spelling is dropped), and every link opens with rel="noopener noreferrer
nofollow". No images: a page must never load anything from another server
(a tracking pixel in a ticket would tell its sender who read it, and when).
"""

from __future__ import annotations

import markdown as md
import nh3

ALLOWED_TAGS = frozenset(
    {
        "a", "abbr", "b", "blockquote", "br", "code", "del", "em", "h1", "h2", "h3", "h4", "h5", "h6",
        "hr", "i", "kbd", "li", "ol", "p", "pre", "s", "strong", "sub", "sup", "table", "tbody",
        "td", "th", "thead", "tr", "ul",
    }
)  # fmt: skip
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "abbr": {"title"},
    "th": {"align"},
    "td": {"align"},
}
URL_SCHEMES = frozenset({"http", "https", "mailto"})
EXTENSIONS = ["fenced_code", "tables", "sane_lists", "nl2br"]
# Rendering time grows with the input; descriptions are capped at 50,000 characters by the API.
MAX_INPUT = 100_000


def render(text: str | None) -> str:
    """Safe HTML for a Markdown text (empty string for empty input)."""
    if not text:
        return ""
    html = md.markdown(text[:MAX_INPUT], extensions=EXTENSIONS, output_format="html")
    return nh3.clean(
        html,
        tags=set(ALLOWED_TAGS),
        clean_content_tags={"script", "style"},
        attributes={tag: set(attrs) for tag, attrs in ALLOWED_ATTRIBUTES.items()},
        url_schemes=set(URL_SCHEMES),
        link_rel="noopener noreferrer nofollow",
    )
