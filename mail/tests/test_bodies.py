"""Charsets, HTML to text and reply trimming on their own. No database."""

from __future__ import annotations

import email
import email.policy
from pathlib import Path

import pytest

from mail.bodies import clean_text, codec_for, decode_bytes, unflow
from mail.html_text import html_to_text
from mail.reply_trim import reply_text

CORPUS = Path(__file__).parent / "corpus"


def html_part(name: str) -> str:
    message = email.message_from_bytes((CORPUS / name).read_bytes(), policy=email.policy.default)
    return message.get_body(preferencelist=("html",)).get_content()


@pytest.mark.parametrize(
    ("data", "charset", "text"),
    [
        ("Grüße".encode(), "utf-8", "Grüße"),
        ("Grüße".encode("latin-1"), "iso-8859-1", "Grüße"),
        (b"\x93quoted\x94 \x80", "iso-8859-1", "“quoted” €"),  # what Outlook labels latin-1 is windows-1252
        ("Привет".encode("koi8-r"), "KOI8-R", "Привет"),
        ("日本語".encode("iso2022_jp"), "iso-2022-jp", "日本語"),
        ("中文".encode("gb18030"), "gb2312", "中文"),
        ("表示".encode("cp932"), "shift_jis", "表示"),
        ("Grüße".encode(), "x-unknown", "Grüße"),  # unknown: UTF-8 when it is
        ("Grüße".encode("cp1252"), "x-unknown", "Grüße"),  # else windows-1252
        ("Grüße".encode(), None, "Grüße"),
        (b"abc\x00def\x07\r\nx", "utf-8", "abcdef\nx"),
        (b"x", "zlib", "x"),  # a bytes codec is no charset
        (b"x", "base64", "x"),
        (b"xn--mnchen-3ya", "punycode", "xn--mnchen-3ya"),  # not a mail charset
        ("Grüße".encode(), "us-ascii", "Grüße"),  # UTF-8 under a default label
        (b"+2AA-", "utf-7", "\ufffd"),  # a lone surrogate never leaks
    ],
)
def test_decode_bytes(data, charset, text):
    assert decode_bytes(data, charset) == text


def test_codec_for():
    assert codec_for("UTF-8") == "utf-8"
    assert codec_for('"utf8"') == "utf-8"
    assert codec_for("rot13") is None and codec_for("hex") is None
    assert codec_for("no-such") is None and codec_for("") is None and codec_for(None) is None


def test_clean_text():
    assert clean_text("a\r\nb\rc\x00d\x1b\x85e\ud800f\u2028g\t") == "a\nb\ncd\ne\ufffdf\ng\t"


def test_html_to_text_of_an_outlook_reply():
    text = html_to_text(html_part("outlook_reply.eml"))
    assert "font-family" not in text and "<" not in text.replace("<support", "").replace("<tom", "")
    assert text.startswith("Hi Jane,\n\nThe export works again after clearing the cache, thank you.")
    assert "From: Example Support <support@helpdesk.example>\nSent: Monday, December 7, 2026 10:00 AM" in text
    assert reply_text(text) == (
        "Hi Jane,\n\nThe export works again after clearing the cache, thank you.\n\n"
        "Best regards\n\nTom Becker\n\nFinance, Example Corp"
    )


def test_html_to_text_of_a_gmail_reply_quotes_the_blockquote():
    text = html_to_text(html_part("gmail_reply.eml"))
    assert "> Please clear the browser cache and try again." in text
    assert reply_text(text) == "Thanks, that fixed it! One more question: can I export to CSV as well?"


@pytest.mark.parametrize(
    ("html", "text"),
    [
        ('<a href="https://x.example/a">https://x.example/a</a>', "https://x.example/a"),
        ('<a href="https://x.example/a">here</a>', "here (https://x.example/a)"),
        ('<a href="javascript:alert(1)">here</a>', "here"),
        ('<a href="data:text/html,x">here</a>', "here"),
        ('<a href="https://x.example/img"><img src="x"></a>', "https://x.example/img"),
        ("<pre>  a\n    b</pre>", "  a\n    b"),
        ("a<br><br><br><br>b", "a\n\nb"),
        ("<p>a</p><p>b</p>", "a\n\nb"),
        ("<div>a</div><div>b</div>", "a\nb"),
        ("x<script>never</script><style>p{}</style><SCRIPT>never</SCRIPT>y", "xy"),
        ("<!-- comment -->a<![CDATA[b]]>", "a"),
        ("&lt;script&gt;alert(1)&lt;/script&gt;", "<script>alert(1)</script>"),  # text, shown escaped
        ("a&nbsp;&nbsp;b &amp; &euro; &#8364; &#x20AC; &#0; &#xD800;", "a b & € € € \ufffd \ufffd"),
        ("<table><tr><td>1</td><td>2</td></tr><tr><td>3</td></tr></table>", "1 | 2\n3"),
        ("<ul><li>a<ul><li>b</li></ul></li></ul>", "- a\n\n- b"),
        ("<blockquote>q<blockquote>qq</blockquote></blockquote>", "> q\n>\n> > qq"),
        ("<p>unclosed <b>bold <i>and", "unclosed bold and"),
        ("", ""),
    ],
)
def test_html_to_text(html, text):
    assert html_to_text(html) == text


@pytest.mark.parametrize(
    ("text", "reply"),
    [
        ("Thanks!\n\nOn Mon, 7 Dec 2026 at 10:00, A <a@x> wrote:\n> old", "Thanks!"),
        ("Danke!\n\nAm Mo., 7. Dez. 2026 um 10:00 Uhr schrieb A <a@x>:\n> alt", "Danke!"),
        ("Danke!\n\nMax Muster schrieb:\n> alt", "Danke!"),
        ("Merci !\n\nLe lun. 7 déc. 2026 à 10:00, A <a@x> a écrit :\n> vieux", "Merci !"),
        ("¡Gracias!\n\nEl lun, 7 dic 2026 a las 10:00, A (<a@x>) escribió:\n> viejo", "¡Gracias!"),
        ("Bedankt!\n\nOp ma 7 dec. 2026 om 10:00 schreef A <a@x>:\n> oud", "Bedankt!"),
        ("Grazie!\n\nIl giorno lun 7 dic 2026 alle ore 10:00 A <a@x> ha scritto:\n> vecchio", "Grazie!"),
        ("Ok\n\n-----Original Message-----\nFrom: A\nSent: today\n\nold", "Ok"),
        ("Ok\n\n-----Message d'origine-----\nDe : A\nEnvoyé : aujourd'hui\n\nvieux", "Ok"),
        ("Ok\n\n----- Mensaje original -----\nDe: A\nEnviado el: hoy\n\nviejo", "Ok"),
        ("Ok\n\n-----Oorspronkelijk bericht-----\nVan: A\nVerzonden: vandaag\n\noud", "Ok"),
        ("Ok\n\n________________________________\nFrom: A <a@x>\nSent: today\nold", "Ok"),
        ("Ok\n\nFrom: A <a@x>\nSent: Monday\nTo: B\nSubject: s\n\nold", "Ok"),
        ("Ok\n\nVon: A <a@x>\nGesendet: Montag\nAn: B\nBetreff: s\n\nalt", "Ok"),
        ("Ok\n\nDe : A <a@x>\nEnvoyé : lundi\nÀ : B\nObjet : s\n\nvieux", "Ok"),
        ("> question?\nanswer one\n> question 2?\nanswer two", "answer one\nanswer two"),
        ("Ok\n-- \nJane\nPhone", "Ok"),
        ("Ok\n\nVon meinem iPhone gesendet", "Ok"),
        ("Ok\n\nEnvoyé de mon iPhone", "Ok"),
        ("Ok\n\nGet Outlook for Android", "Ok"),
        # running text that only looks like a header is kept
        ("From: my manager I heard the printer is broken.\nPlease fix.", None),
        ("Yesterday Max schrieb: the printer is broken.\nPlease fix.", None),
        # nothing of the sender's own: the whole text
        ("-----Original Message-----\nFrom: A\nSent: today\n\nforwarded", None),
        ("> only a quote", None),
    ],
)
def test_reply_text(text, reply):
    assert reply_text(text) == (text if reply is None else reply)


@pytest.mark.parametrize(
    ("flowed", "delsp", "text"),
    [
        ("This is one \nparagraph.\n\nNext.", False, "This is one paragraph.\n\nNext."),
        ("Split wo \nrd", True, "Split word"),
        ("> quoted \n> line\nmine", False, "> quoted line\nmine"),
        ("> quoted \nmine", False, "> quoted \nmine"),  # a depth change ends the paragraph
        (" From me, space-stuffed", False, "From me, space-stuffed"),
        ("Bye \n-- \nJane", False, "Bye \n-- \nJane"),  # the signature line is never joined
        ("Bye\n-- \nJane", False, "Bye\n-- \nJane"),
    ],
)
def test_unflow(flowed, delsp, text):
    assert unflow(flowed, delsp=delsp) == text
