"""Checks of rendered HTML shared by the page tests."""

from __future__ import annotations

from html.parser import HTMLParser


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
        self.found += [
            f"{tag} {name}=javascript:"
            for name, value in attrs
            if (value or "").strip().lower().startswith("javascript:")
        ]


def inline_code(html: str) -> list[str]:
    """What a strict CSP (no 'unsafe-inline') would block: inline scripts, <style>,
    style= and on*= attributes, javascript: URLs. Escaped text is not markup."""
    parser = _InlineCode()
    parser.feed(html)
    return parser.found
