"""Checks every page test makes: the strict CSP is sent and the HTML needs nothing it forbids."""

from __future__ import annotations

import re

from django.http import HttpResponse

INLINE_SCRIPT = re.compile(r"<script\b(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)
STYLE_ELEMENT = re.compile(r"<style\b", re.IGNORECASE)
STYLE_ATTRIBUTE = re.compile(r"\sstyle=", re.IGNORECASE)
HANDLER_ATTRIBUTE = re.compile(r"\son[a-z]+=", re.IGNORECASE)
EXTERNAL = re.compile(r"""(?:src|href)=["']?(?:https?:)?//""", re.IGNORECASE)


def assert_csp_clean(response: HttpResponse) -> str:
    """The CSP header is there and the HTML has no inline script, no style
    element or attribute, no on* handler and loads nothing from elsewhere.
    Returns the HTML for further checks."""
    policy = response.headers.get("Content-Security-Policy", "")
    assert "script-src 'self'" in policy and "style-src 'self'" in policy, policy
    html = response.content.decode()
    for name, pattern in [
        ("inline <script>", INLINE_SCRIPT),
        ("<style> element", STYLE_ELEMENT),
        ("style= attribute", STYLE_ATTRIBUTE),
        ("on*= handler", HANDLER_ATTRIBUTE),
        ("external resource", EXTERNAL),
    ]:
        match = pattern.search(html)
        assert match is None, f"{name} at: {html[max(match.start() - 80, 0) : match.end() + 80]!r}"
    return html


def assert_labelled_controls(html: str) -> None:
    """Every visible input, select and textarea has a <label for> (keyboard and screen-reader use)."""
    labelled = set(re.findall(r'<label[^>]*\bfor="([^"]+)"', html))
    for tag in re.findall(r"<(?:input|select|textarea)\b[^>]*>", html):
        if re.search(r'type="(?:hidden|submit)"', tag):
            continue
        control_id = re.search(r'\bid="([^"]+)"', tag)
        assert control_id and control_id.group(1) in labelled, f"unlabelled control: {tag}"
