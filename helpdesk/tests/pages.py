"""Checks every page test makes: the strict CSP is sent and the HTML needs nothing it forbids."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from django.http import HttpResponse

# A URL with a host: what a page would load from elsewhere (links to click are fine).
EXTERNAL = re.compile(r"^\s*(?:[a-z][a-z0-9+.-]*:)?//", re.IGNORECASE)


class _InlineCode(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = {name for name, _ in attrs}
        if tag == "script" and "src" not in names:
            self.found.append("<script> without src")
        if tag == "style":
            self.found.append("<style>")
        self.found += [f"{tag} {name}=" for name in names if name == "style" or name.startswith("on")]
        loads = [value for name, value in attrs if name == "src" or (tag == "link" and name == "href")]
        self.found += [f"{tag} loads {value}" for value in loads if EXTERNAL.match(value or "")]
        self.found += [
            f"{tag} {name}=javascript:"
            for name, value in attrs
            if (value or "").strip().lower().startswith("javascript:")
        ]


def inline_code(html: str) -> list[str]:
    """What a strict CSP (no 'unsafe-inline', only 'self') would block: inline
    scripts, <style>, style= and on*= attributes, javascript: URLs, resources
    from another host. Escaped text is not markup."""
    parser = _InlineCode()
    parser.feed(html)
    return parser.found


def assert_csp_clean(response: HttpResponse) -> str:
    """The CSP header is there and the HTML has no inline script, no style
    element or attribute, no on* handler and loads nothing from elsewhere.
    Returns the HTML for further checks."""
    policy = response.headers.get("Content-Security-Policy", "")
    assert "script-src 'self'" in policy and "style-src 'self'" in policy, policy
    html = response.content.decode()
    found = inline_code(html)
    assert found == [], found
    return html


def assert_labelled_controls(html: str) -> None:
    """Every visible input, select and textarea has a <label for> (keyboard and screen-reader use)."""
    labelled = set(re.findall(r'<label[^>]*\bfor="([^"]+)"', html))
    for tag in re.findall(r"<(?:input|select|textarea)\b[^>]*>", html):
        if re.search(r'type="(?:hidden|submit)"', tag):
            continue
        control_id = re.search(r'\bid="([^"]+)"', tag)
        assert control_id and control_id.group(1) in labelled, f"unlabelled control: {tag}"
