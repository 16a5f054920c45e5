"""One test per message in corpus/ (see corpus/README.md): the fields the ingest
service decides on, asserted exactly. No database."""

from __future__ import annotations

import email
import email.policy
import hashlib
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from mail.html_text import html_to_text
from mail.parsing import Attachment, Bounce, MailParseError, ParsedMail, message_key, parse_message, reply_token
from mail.reply_trim import reply_text

CORPUS = Path(__file__).parent / "corpus"
MAILBOX = "support@helpdesk.example"
CET = timezone(timedelta(hours=1))


def parse(name: str) -> ParsedMail:
    return parse_message((CORPUS / name).read_bytes())


def test_every_corpus_file_has_a_test_and_a_readme_entry():
    names = {path.name for path in CORPUS.glob("*.eml")}
    source = Path(__file__).read_text()
    readme = (CORPUS / "README.md").read_text()
    assert names, "the corpus is empty"
    assert {name for name in names if f'"{name}"' not in source} == set()
    assert {name for name in names if f"`{name}`" not in readme} == set()


def test_outlook_reply():
    mail = parse("outlook_reply.eml")
    assert mail.message_id == "AM0PR07MB4321D2F5E6A1B2C3D4E5F6A7B8C9D@AM0PR07MB4321.eurprd07.prod.outlook.com"
    assert mail.in_reply_to == ("hd.123.1.a1b2c3@helpdesk.example",)
    assert mail.references == ("hd.123.1.a1b2c3@helpdesk.example",)
    assert (mail.from_address, mail.from_name) == ("tom.becker@example.com", "Tom Becker")
    assert mail.to == (MAILBOX,)
    assert mail.subject == "RE: [HD-000123] Export to Excel fails"
    assert mail.date == datetime(2026, 12, 7, 11, 2, 12, tzinfo=UTC)
    # text/plain preferred over the HTML alternative
    assert "-----Original Message-----" in mail.text
    assert mail.reply_text == (
        "Hi Jane,\n\nThe export works again after clearing the cache, thank you.\n\n"
        "Best regards\nTom Becker\nFinance, Example Corp"
    )
    assert mail.attachments == ()
    assert mail.automatic is None and mail.bounce is None


def test_gmail_reply_with_wrapped_attribution_quotes_and_signature():
    mail = parse("gmail_reply.eml")
    assert mail.message_id == "CAJ8k2zQe5kVd1pXw3fT+9sHqYb7nR0mL4cUo2aG6iE_tN1vB5A@mail.gmail.com"
    assert mail.in_reply_to == ("hd.123.2.d4e5f6@helpdesk.example",)
    assert mail.references == ("hd.123.1.a1b2c3@helpdesk.example", "hd.123.2.d4e5f6@helpdesk.example")
    assert (mail.from_address, mail.from_name) == ("jane.doe@gmail.com", "Jane Doe")
    assert mail.subject == "Re: [HD-000123] Export to Excel fails"
    assert mail.date == datetime(2026, 12, 7, 10, 14, 51, tzinfo=UTC)
    assert mail.reply_text == "Thanks, that fixed it! One more question: can I export to CSV as well?"
    assert "> Please clear the browser cache" in mail.text and "Jane Doe\nAccounts Payable" in mail.text
    # to is lower-cased; recipients keep the case-sensitive token
    assert mail.to == ("support+q3xt9klm2pzr7vwy@helpdesk.example",)
    assert reply_token(mail.recipients, mailbox_address=MAILBOX) == "Q3xT9kLm2PzR7vWy"


def test_apple_iphone_reply():
    mail = parse("apple_iphone.eml")
    assert mail.message_id == "4F0C1C2E-8B6A-4E1F-9D3B-2A7C5E9F1B3D@icloud.com"
    assert (mail.from_address, mail.from_name) == ("m.rossi@icloud.com", "Marco Rossi")
    assert mail.subject == "Re: [HD-000124] Printer offline"
    assert mail.reply_text == "Yes, the printer on floor 3 is working again."
    assert "Sent from my iPhone" in mail.text and "Sent from my iPhone" not in mail.reply_text


def test_html_only_mail_becomes_clean_text():
    mail = parse("html_only.eml")
    assert (mail.from_address, mail.from_name) == ("lena@shop.example.com", "Lena Fischer")
    assert mail.subject == "Order #4711 stuck"
    assert mail.text == (
        "Order #4711 is stuck\n\n"
        "Hello team,\n"
        "our order is stuck in processing since Friday. See the order page "
        "(https://shop.example.com/orders/4711) or write to orders@example.com. A bad link: click me.\n\n"
        "- Item one\n- Item two & more\n\n"
        "1. First step\n2. Second step\n\n"
        "SKU | Qty\nA-1 | 2\n\n"
        "Thanks <3\nLena"
    )
    for gone in ("alert", "cookie", "font-family", "javascript", "<b>", "pixel.gif", "Order issue", "\xa0"):
        assert gone not in mail.text
    assert mail.reply_text == mail.text


def test_koi8r_body_and_subject():
    mail = parse("koi8r.eml")
    assert mail.from_name == "Иван Петров"
    assert mail.subject == "Не работает вход"
    assert mail.text == "Добрый день!\nНе работает вход в личный кабинет.\nС уважением, Иван"
    assert mail.date == datetime(2026, 12, 7, 6, 0, tzinfo=UTC)


def test_windows1252_smart_quotes_and_euro():
    mail = parse("windows1252.eml")
    assert mail.from_name == "René Dupont"
    assert mail.subject == "Invoice “wrong” – € 200 too much"
    assert mail.text == (
        "Hello,\n\nthe invoice says “€ 1.200” but we were quoted € 1.000 – please check.\n\nRegards, René"
    )
    assert mail.message_id == "000001d9a1b2$c3d4e5f0$a1b2c3d4$@example.fr"


def test_iso2022jp_body_and_subject():
    mail = parse("iso2022jp.eml")
    assert mail.from_name == "山田太郎"
    assert mail.subject == "ログインできません"
    assert mail.text == "お世話になっております。\nログインできません。\nよろしくお願いします。"


def test_rfc2047_subject_b_and_q_mixed_and_split_character():
    mail = parse("rfc2047_subject.eml")
    assert mail.subject == "Grüße € Rechnung und über Straße plain"
    assert (mail.from_address, mail.from_name) == ("joerg.mueller@example.de", "Jörg Müller")


def test_rfc2231_and_rfc2047_file_names_base64_and_quoted_printable():
    mail = parse("rfc2231_attachments.eml")
    assert mail.text == "Anbei die Unterlagen."
    assert [(a.filename, a.content_type, len(a.content), a.inline) for a in mail.attachments] == [
        ("Rechnungsübersicht für Dezember 2026.pdf", "application/pdf", 77, False),
        ("Beträge.csv", "text/csv", 30, False),
        ("evil.exe", "application/octet-stream", 12, False),  # "../../../etc/cron.d/evil.exe"
        ("image.png", "image/png", 8, False),  # no name: one by its type
    ]
    pdf, csv, exe, png = mail.attachments
    assert pdf.content.startswith(b"%PDF-1.4\n") and pdf.content.endswith(b"%%EOF\n")
    assert csv.content == "name;amount\nMüller;12,50 €\n".encode()
    assert exe.content.startswith(b"MZ")
    assert png.content == b"\x89PNG\r\n\x1a\n"


def test_forwarded_message_is_an_eml_attachment():
    mail = parse("forwarded_rfc822.eml")
    assert mail.subject == "Fwd: Contract renewal"
    assert mail.text == "Please see the message from our vendor below."
    (forwarded,) = mail.attachments
    assert (forwarded.filename, forwarded.content_type, forwarded.inline) == (
        "Contract renewal.eml",
        "message/rfc822",
        False,
    )
    inner = parse_message(forwarded.content)
    assert (inner.message_id, inner.from_address) == ("vendor-991@vendor.example", "sales@vendor.example")
    assert inner.text == "Your contract ends on 31 December 2026."


def test_inline_image_in_multipart_related():
    mail = parse("inline_image.eml")
    assert mail.text == "Here is the error:\n\n[image: error.png]\n\nSara"
    assert mail.attachments == (
        Attachment(
            filename="error.png",
            content_type="image/png",
            content=mail.attachments[0].content,
            inline=True,
            content_id="F00D1E55-1234-4321-ABCD-00000000CAFE",
        ),
    )
    assert mail.attachments[0].content.startswith(b"\x89PNG\r\n\x1a\n") and len(mail.attachments[0].content) == 66


def test_out_of_office_with_auto_submitted():
    mail = parse("out_of_office.eml")
    assert mail.automatic == "auto-submitted"
    assert mail.subject == "Automatic reply: [HD-000125] VPN access"
    assert mail.in_reply_to == ("hd.125.1.beef01@helpdesk.example",)
    assert mail.text.startswith("Ich bin bis 14.12. nicht im Büro. In dringenden Fällen")


def test_out_of_office_with_only_x_autoreply():
    mail = parse("x_autoreply.eml")
    assert mail.automatic == "x-autoreply"
    assert mail.text == "Estoy de vacaciones hasta el lunes."


def test_mailing_list_message():
    mail = parse("mailing_list.eml")
    assert mail.automatic == "precedence"
    assert mail.to == ("announce@lists.example.org",)
    without_precedence = (CORPUS / "mailing_list.eml").read_bytes().replace(b"Precedence: list\n", b"")
    assert parse_message(without_precedence).automatic == "list"


def test_dsn_bounce_with_returned_message():
    mail = parse("dsn_bounce.eml")
    assert mail.bounce == Bounce(
        original_message_id="hd.126.3.f00ba4@helpdesk.example",
        recipients=("no.such.user@example.net",),  # the delayed cc.person@example.net is not failed
        status="5.1.1",
    )
    assert (mail.from_address, mail.from_name) == ("mailer-daemon@mx.helpdesk.example", "Mail Delivery System")
    assert mail.automatic == "auto-submitted"
    assert mail.text.startswith("This is the mail system at host mx.helpdesk.example.")
    assert [(a.filename, a.content_type) for a in mail.attachments] == [
        ("[HD-000126] Password reset.eml", "message/rfc822")
    ]


def test_dsn_bounce_with_returned_headers_only():
    mail = parse("dsn_headers_only.eml")
    assert mail.bounce == Bounce(
        original_message_id="hd.127.5.abcdef@helpdesk.example", recipients=("gone@example.org",), status="5.2.2"
    )
    assert mail.attachments == ()
    assert mail.from_name == "Mail Delivery System"


def test_message_without_message_id_is_keyed_by_its_digest():
    raw = (CORPUS / "no_message_id.eml").read_bytes()
    mail = parse_message(raw)
    assert mail.message_id is None
    assert mail.raw_digest == hashlib.sha256(raw).hexdigest()
    assert message_key(mail) == "sha256:" + hashlib.sha256(raw).hexdigest()
    assert (mail.from_address, mail.from_name) == ("old-scanner@example.com", "")


def test_invalid_utf8_in_a_utf8_body():
    mail = parse("invalid_utf8.eml")
    assert mail.subject == "Café \ufffd broken"
    assert mail.text == "Café ok, surrogate \ufffd\ufffd\ufffd here, overlong \ufffd\ufffd, stray \ufffd\ufffd end."
    mail.text.encode("utf-8")


def test_garbage_bytes():
    with pytest.raises(MailParseError) as error:
        parse("garbage.eml")
    assert error.value.reason == "The message has no usable From address."


def test_nul_bytes_are_dropped():
    mail = parse("nul_bytes.eml")
    assert mail.subject == "Hello world"
    assert mail.text == "Line one with NUL and bell.\nLine two."
    assert (mail.from_address, mail.from_name) == ("nul@example.com", "Nul Sender")


def test_reply_to_the_reply_token_address():
    mail = parse("reply_token.eml")
    assert mail.to == ("support+zk3_vq8-pw2mn7xr4ty1@helpdesk.example",)
    assert mail.cc == ("dana@example.com", "eve@example.com")
    assert mail.recipients == (
        "Support+Zk3_vQ8-pW2mN7xR4tY1@helpdesk.example",
        "dana@example.com",
        "EVE@example.com",
        "support@helpdesk.example",
        "support+Zk3_vQ8-pW2mN7xR4tY1@helpdesk.example",
    )
    assert reply_token(mail.recipients, mailbox_address=MAILBOX) == "Zk3_vQ8-pW2mN7xR4tY1"
    assert reply_token(mail.recipients, mailbox_address="other@helpdesk.example") is None


def test_german_outlook_reply():
    mail = parse("outlook_de.eml")
    assert mail.from_name == "Wagner, Stefan"
    assert mail.subject == "AW: [HD-000129] Rechner startet nicht"
    assert mail.reply_text == (
        "Hallo zusammen,\n\ndas Problem besteht weiterhin. Ich habe den Rechner neu gestartet.\n\n"
        "Mit freundlichen Grüßen\nStefan Wagner"
    )
    assert "Ursprüngliche Nachricht" in mail.text


def test_french_gmail_reply():
    mail = parse("gmail_fr.eml")
    assert mail.message_id == "CAFr4nc3zXq9=KpL2m0Q+vY7wT5sR1nB8aD6eC3fG2hJ4kM@mail.gmail.com"
    assert mail.reply_text == "Bonjour,\n\nMerci, c'est réglé."
    assert "a\nécrit :" in mail.text


def test_unknown_charset_and_broken_base64():
    mail = parse("unknown_charset.eml")
    assert mail.subject == "Grüße"
    assert mail.text == "Grüße aus Köln"
    (data,) = mail.attachments
    assert (data.filename, data.content_type) == ("data.bin", "application/octet-stream")
    assert data.content.startswith(b"Hello wor")


def test_header_injection_is_collapsed():
    mail = parse("header_injection.eml")
    assert mail.subject == "Hello Bcc: victim@example.com body"
    assert (mail.from_address, mail.from_name) == ("mallory@example.com", "Mallory Bcc: victim@example.com")
    assert mail.to == (MAILBOX,) and mail.cc == ()


def test_dates_keep_their_offset():
    assert parse("apple_iphone.eml").date == datetime(2026, 12, 7, 10, 21, 7, tzinfo=CET)


def test_outlook_web_reply_with_underscores():
    mail = parse("outlook_web.eml")
    assert mail.message_id == "PAXP193MB1234ABCDEF0123456789ABCDEF012345@PAXP193MB1234.EURP193.PROD.OUTLOOK.COM"
    assert mail.subject == "Re: [HD-000131] Login problem"
    assert mail.reply_text == (
        'Hi,\n\nI still cannot log in from home. The error says "account locked".\n\nKind regards,\nPriya'
    )
    html = email.message_from_bytes((CORPUS / "outlook_web.eml").read_bytes(), policy=email.policy.default)
    assert reply_text(html_to_text(html.get_body(preferencelist=("html",)).get_content())) == (
        'Hi,\nI still cannot log in from home. The error says "account locked".\nKind regards,\nPriya'
    )


def test_thunderbird_flowed_german_reply():
    mail = parse("thunderbird_flowed_de.eml")
    assert (mail.from_address, mail.from_name) == ("karl.huber@example.at", "Karl Huber")
    assert "> Druckt der Drucker wieder? Bitte geben Sie uns kurz Bescheid." in mail.text
    assert mail.reply_text == (
        "Hallo,\n\nder Drucker im zweiten Stock druckt wieder, aber sehr langsam. "
        "Ein Ausdruck mit zehn Seiten dauert fast fünf Minuten."
    )
