"""Untrusted Markdown renders to HTML that can run nothing (docs/PRODUCT.md "Tickets")."""

import re

import pytest

from helpdesk.markdown import render

XSS = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "[click](javascript:alert(1))",
    "[click](JaVaScRiPt:alert(1))",
    "[click](java\nscript:alert(1))",
    "[click](&#106;avascript:alert(1))",
    "[click]( javascript:alert(1))",
    "[click](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "![x](javascript:alert(1))",
    '<a href="javascript:alert(1)">x</a>',
    '<svg onload=alert(1)><circle r="1"/></svg>',
    '<iframe src="https://evil.example"></iframe>',
    "<style>body{display:none}</style>",
    '<p style="background:url(javascript:alert(1))">x</p>',
    '<div onclick="alert(1)">x</div>',
    "[x](vbscript:msgbox(1))",
    '<form action="https://evil.example"><input name=a></form>',
    '<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>',
]


@pytest.mark.parametrize("text", XSS)
def test_nothing_executable_survives(text):
    html = render(text).lower()
    assert "<script" not in html and "<iframe" not in html and "<svg" not in html and "<style" not in html
    assert "<form" not in html and "<input" not in html
    assert not re.search(r"\son\w+\s*=", html), html
    assert "style=" not in html
    for href in re.findall(r'(?:href|src)="([^"]*)"', html):
        assert href.split(":", 1)[0] in ("http", "https", "mailto") or ":" not in href, html


def test_markdown_features_render():
    html = render("**bold** and *em*\n\n- a\n- b\n\n```\ncode <b>\n```\n\n| a | b |\n|---|---|\n| 1 | 2 |")
    assert "<strong>bold</strong>" in html and "<em>em</em>" in html
    assert "<li>a</li>" in html and "<table>" in html
    assert "code &lt;b&gt;" in html  # code is escaped, not interpreted


def test_links_are_kept_with_safe_rel():
    html = render("[docs](https://example.com/help)")
    assert 'href="https://example.com/help"' in html and 'rel="noopener noreferrer nofollow"' in html


@pytest.mark.parametrize("text", [None, ""])
def test_empty(text):
    assert render(text) == ""


def test_images_are_dropped_so_no_page_loads_from_another_server():
    html = render("![pixel](https://tracker.example.com/p.gif) and <img src=\"/static/x.png\">")
    assert "<img" not in html and "tracker.example.com" not in html
