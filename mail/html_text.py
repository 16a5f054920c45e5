"""HTML bodies to plain text: the visible text as lines, blocks and list items on
lines of their own, blockquotes as ``> `` quotes (so ``mail.reply_trim`` trims a quoted
HTML reply like a text one), links as ``text (url)``.

Pure, no database, no settings; the result is clean text as ``mail.bodies.clean_text``
defines it, tidied by ``mail.bodies.tidy``.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

from mail.bodies import clean_text, tidy

MAX_HTML_CHARS = 2_000_000  # HTML beyond this is not converted (the converter is pure Python)

_SKIPPED = frozenset({"script", "style", "head", "title", "template", "noscript", "svg", "math", "iframe", "object"})
_BLOCKS = frozenset(
    {
        "p",
        "div",
        "section",
        "article",
        "header",
        "footer",
        "main",
        "nav",
        "aside",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "ul",
        "ol",
        "dl",
        "dt",
        "dd",
        "table",
        "tr",
        "address",
        "figure",
        "figcaption",
        "center",
        "form",
        "fieldset",
    }
)
# Blocks that stand apart by a blank line (the others start a new line only).
_PARAGRAPHS = frozenset({"p", "h1", "h2", "h3", "h4", "h5", "h6", "table", "dl", "address", "figure"})
_VOID = frozenset(
    {"br", "hr", "img", "input", "meta", "link", "area", "base", "col", "embed", "param", "source", "wbr"}
)
MAX_QUOTE_MARKS = 10  # "> " per line at most: a thousand nested blockquotes must not cost quadratic text
_SAFE_LINK = re.compile(r"^(https?://|mailto:)", re.IGNORECASE)


class _TextConverter(HTMLParser):
    """Collects the visible text of an HTML document as lines. Blocks start new
    lines, list items get ``- `` or ``1. ``, table cells are joined by `` | ``,
    a blockquote's lines get ``> `` (so a quoted reply in HTML is trimmed like one in
    text), a link is kept as ``text (url)`` when its URL is http(s) or mailto and not
    already its text. Scripts, styles and the head are dropped."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = []
        self.current: list[str] = []
        self.skip_depth = 0
        self.pre_depth = 0
        self.quote_depth = 0
        self.lists: list[list[int | str]] = []  # per open list: [kind, counter]
        self.cells_in_row = 0
        self.link: tuple[str, int] | None = None  # (href, position in current line)

    # Lines
    def _line(self, *, force: bool) -> None:
        """End the current line; an empty one only when ``force`` (a <br>)."""
        line = "".join(self.current)
        if self.pre_depth == 0:
            line = " ".join(line.split())
        if line or force:
            self.lines.append(("> " * min(self.quote_depth, MAX_QUOTE_MARKS) + line).rstrip())
        self.current = []
        if self.link is not None:
            self.link = (self.link[0], 0)

    def _break(self) -> None:
        self._line(force=False)

    def _blank(self) -> None:
        """End the paragraph: the current line, then one blank line."""
        self._line(force=False)
        blank = ("> " * min(self.quote_depth, MAX_QUOTE_MARKS)).rstrip()
        if self.lines and self.lines[-1] != blank:
            self.lines.append(blank)

    def _text(self, data: str) -> None:
        if self.skip_depth:
            return
        if self.pre_depth:
            parts = data.split("\n")
            for index, part in enumerate(parts):
                if index:
                    self._line(force=True)
                self.current.append(part)
        else:
            self.current.append(data.replace("\n", " ").replace("\r", " "))

    # Parser events
    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIPPED:
            if tag not in _VOID:
                self.skip_depth += 1
            return
        if self.skip_depth:
            return
        if tag == "br":
            self._line(force=True)
        elif tag == "hr":
            self._break()
            self.current.append("---")
            self._break()
        elif tag == "blockquote":
            self._blank()
            self.quote_depth += 1
        elif tag == "pre":
            self._blank()
            self.pre_depth += 1
        elif tag in ("ul", "ol"):
            self._blank()
            self.lists.append([tag, 0])
        elif tag == "li":
            self._break()
            if self.lists and self.lists[-1][0] == "ol":
                self.lists[-1][1] = int(self.lists[-1][1]) + 1
                self.current.append(f"{self.lists[-1][1]}. ")
            else:
                self.current.append("- ")
        elif tag == "tr":
            self._break()
            self.cells_in_row = 0
        elif tag in ("td", "th"):
            if self.cells_in_row:
                self.current.append(" | ")
            self.cells_in_row += 1
        elif tag == "a":
            href = dict(attrs).get("href") or ""
            self.link = (href.strip(), len("".join(self.current)))
        elif tag in _PARAGRAPHS:
            self._blank()
        elif tag in _BLOCKS:
            self._break()

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _VOID:
            self.handle_starttag(tag, attrs)
        else:
            self.handle_starttag(tag, attrs)
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED:
            if tag not in _VOID and self.skip_depth:
                self.skip_depth -= 1
            return
        if self.skip_depth:
            return
        if tag == "blockquote":
            self._break()
            self.quote_depth = max(0, self.quote_depth - 1)
            self._blank()
        elif tag == "pre":
            self._break()
            self.pre_depth = max(0, self.pre_depth - 1)
            self._blank()
        elif tag in ("ul", "ol"):
            self._blank()
            if self.lists:
                self.lists.pop()
        elif tag == "a" and self.link is not None:
            href, start = self.link
            self.link = None
            shown = " ".join("".join(self.current)[start:].split())
            bare = href.split(":", 1)[-1].lstrip("/")
            if _SAFE_LINK.match(href) and shown.rstrip("/") not in (href.rstrip("/"), bare.rstrip("/")):
                self.current.append(f" ({href})" if shown else href)
        elif tag in _PARAGRAPHS:
            self._blank()
        elif tag in _BLOCKS or tag == "li":
            self._break()

    def handle_data(self, data: str) -> None:
        self._text(data.replace("\xa0", " "))

    def close(self) -> None:
        super().close()
        self._break()


def html_to_text(html: str) -> str:
    """The visible text of an HTML body as clean plain text (no markup, no scripts or
    styles; links as ``text (url)``; at most two newlines in a row)."""
    converter = _TextConverter()
    try:
        if len(html) > MAX_HTML_CHARS:  # cut after a tag, not inside one
            html = html[:MAX_HTML_CHARS]
            html = html[: html.rfind(">") + 1]
        converter.feed(html)
        converter.close()
    except Exception:  # html.parser is lenient, but an AssertionError on odd markup is on record
        converter._break()
    lines = converter.lines
    while lines and not lines[-1].strip(" >"):  # a quote's closing blank lines
        lines.pop()
    return tidy(clean_text("\n".join(lines)))
