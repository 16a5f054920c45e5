"""Ticket numbers in subjects, reply tokens and addresses, message keys. No database."""

from __future__ import annotations

import hashlib

import pytest

from mail.parsing import (
    message_key,
    parse_message,
    reply_address,
    reply_token,
    subject_for,
    ticket_number_in_subject,
)

MAILBOX = "support@helpdesk.example"
TOKEN = "Zk3_vQ8-pW2mN7xR4tY1"


@pytest.mark.parametrize(
    ("subject", "number"),
    [
        ("[HD-000123] Printer offline", 123),
        ("Re: Fwd: [HD-000123] x", 123),
        ("AW: RE: [hd-000042] klein geschrieben", 42),
        ("[HD-1234567] past six digits", 1234567),
        ("first [HD-000007] then [HD-000008]", 7),
        ("[HD-12ab] no", None),
        ("[HD-] no", None),
        ("HD-000123 without brackets", None),
        ("[HD-٣] Arabic-Indic digit", None),
        ("[HD-０１] fullwidth digits", None),
        ("[HD-000000] zero", None),
        ("[HD-" + "9" * 19 + "] past bigint", None),
        ("", None),
    ],
)
def test_ticket_number_in_subject(subject, number):
    assert ticket_number_in_subject(subject) == number


def test_subject_for_is_one_line():
    assert subject_for("HD-000123", "Printer offline") == "[HD-000123] Printer offline"
    assert subject_for("HD-000123", "a\r\nBcc: x@y\x00 z") == "[HD-000123] a Bcc: x@y z"
    assert subject_for("HD-000123", "") == "[HD-000123]"
    assert ticket_number_in_subject(subject_for("HD-000123", "x")) == 123


def test_reply_address_and_token_round_trip():
    address = reply_address(MAILBOX, TOKEN)
    assert address == f"support+{TOKEN}@helpdesk.example"
    assert reply_token([address], mailbox_address=MAILBOX) == TOKEN
    # local part and domain in any case; the token exactly as written
    assert reply_token([f"SUPPORT+{TOKEN}@HELPDESK.EXAMPLE"], mailbox_address=MAILBOX) == TOKEN
    assert reply_token([f"support+{TOKEN.lower()}@helpdesk.example"], mailbox_address=MAILBOX) == TOKEN.lower()
    # the first valid one among several
    assert reply_token(["dana@example.com", MAILBOX, address], mailbox_address=MAILBOX) == TOKEN


@pytest.mark.parametrize(
    "address",
    [
        "support@helpdesk.example",  # no token
        f"support+{TOKEN}@other.example",  # another domain
        f"sales+{TOKEN}@helpdesk.example",  # another mailbox
        f"xsupport+{TOKEN}@helpdesk.example",
        "support+short@helpdesk.example",  # under 16
        "support+" + "a" * 65 + "@helpdesk.example",  # over 64
        "support+abc.def.ghi.jkl.mno@helpdesk.example",  # outside the charset
        f"support+{TOKEN}+x@helpdesk.example",
        f"support+{TOKEN}",
        "",
    ],
)
def test_no_token(address):
    assert reply_token([address], mailbox_address=MAILBOX) is None


def test_a_mailbox_with_a_plus_in_its_local_part():
    mailbox = "help+desk@example.com"
    assert reply_token([reply_address(mailbox, TOKEN)], mailbox_address=mailbox) == TOKEN


@pytest.mark.parametrize("token", ["short", "a" * 65, "has space in it ok", "ümlaut-token-0123456", ""])
def test_reply_address_refuses_a_bad_token(token):
    with pytest.raises(ValueError):
        reply_address(MAILBOX, token)


def test_message_key_hashes_long_ids():
    short = parse_message(b"From: a@b.example\r\nMessage-ID: <abc@b.example>\r\n\r\nx")
    assert message_key(short) == "abc@b.example"
    long_id = "x" * 300 + "@b.example"
    long = parse_message(b"From: a@b.example\r\nMessage-ID: <" + long_id.encode() + b">\r\n\r\nx")
    assert long.message_id == long_id
    assert message_key(long) == "msgid-sha256:" + hashlib.sha256(long_id.encode()).hexdigest()
    assert len(message_key(long)) <= 255


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (b"Message-ID: <abc@x>", "abc@x"),
        (b"Message-ID:   <abc@x>  ", "abc@x"),
        (b"Message-Id: abc@x", "abc@x"),
        (b"Message-ID:\r\n <abc@x>", "abc@x"),
        (b"Message-ID: <>", None),
        (b"Message-ID:", None),
        (b"X-Other: 1", None),
    ],
)
def test_message_id_normalised(header, expected):
    parsed = parse_message(b"From: a@b.example\r\n" + header + b"\r\n\r\nx")
    assert parsed.message_id == expected


def test_references_are_deduplicated_and_bounded():
    ids = b" ".join(b"<r%d@x>" % n for n in range(300))
    parsed = parse_message(b"From: a@b.example\r\nReferences: " + ids + b" <r5@x>\r\n\r\nx")
    assert len(parsed.references) == 100
    assert parsed.references[0] == "r0@x" and parsed.references[-1] == "r299@x"


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        (b"Auto-Submitted: auto-replied", "auto-submitted"),
        (b"Auto-Submitted: auto-generated; owner-email=x@y", "auto-submitted"),
        (b"Auto-Submitted: No", None),
        (b"X-Autorespond: 1", "x-autoreply"),
        (b"Precedence: bulk", "precedence"),
        (b"Precedence: JUNK", "precedence"),
        (b"Precedence: first-class", None),
        (b"List-Id: <a.lists.example>", "list"),
        (b"X-Auto-Response-Suppress: All", None),  # Outlook sets it on people's mail too
    ],
)
def test_automatic(headers, reason):
    assert parse_message(b"From: a@b.example\r\n" + headers + b"\r\n\r\nx").automatic == reason


def test_date_without_zone_and_broken_date():
    naive = parse_message(b"From: a@b.example\r\nDate: Mon, 7 Dec 2026 10:00:00 -0000\r\n\r\nx")
    assert naive.date is not None and naive.date.utcoffset().total_seconds() == 0
    assert parse_message(b"From: a@b.example\r\nDate: yesterday-ish\r\n\r\nx").date is None
    assert parse_message(b"From: a@b.example\r\nDate: Mon, 7 Dec 99999 10:00:00 +0000\r\n\r\nx").date is None
    assert parse_message(b"From: a@b.example\r\nDate: Mon, 1 Jan 1000 00:00:00 +0100\r\n\r\nx").date is None
    assert parse_message(b"From: a@b.example\r\nDate: Fri, 31 Dec 9999 23:59:59 -2359\r\n\r\nx").date is None


def test_an_empty_text_alternative_falls_back_to_the_html():
    raw = (
        b"From: a@b.example\r\nContent-Type: multipart/alternative; boundary=b\r\n\r\n"
        b"--b\r\nContent-Type: text/plain\r\n\r\n \r\n"
        b"--b\r\nContent-Type: text/html\r\n\r\n<p>Hello <b>there</b></p>\r\n--b--\r\n"
    )
    assert parse_message(raw).text == "Hello there"


def test_old_style_comment_name():
    mail = parse_message(b"From: jo@b.example (Jo Smith)\r\n\r\nx")
    assert (mail.from_address, mail.from_name) == ("jo@b.example", "Jo Smith")


def test_a_message_id_shaped_like_a_digest_key_is_hashed():
    forged = parse_message(b"From: a@b.example\r\nMessage-ID: <sha256:" + b"0" * 64 + b">\r\n\r\nx")
    assert message_key(forged) == "msgid-sha256:" + hashlib.sha256(b"sha256:" + b"0" * 64).hexdigest()


@pytest.mark.parametrize(
    ("subject", "name"),
    [(b"Re: a/b\\c", "Re: a-b-c.eml"), (b"...", "message.eml"), (b"", "message.eml"), (b"x" * 300, "x" * 251 + ".eml")],
)
def test_forwarded_message_names(subject, name):
    raw = (
        b"From: a@b.example\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"
        b"Content-Type: message/rfc822\r\n\r\nFrom: c@d.example\r\nSubject: " + subject + b"\r\n\r\ninner\r\n--b--\r\n"
    )
    (attachment,) = parse_message(raw).attachments
    assert (attachment.filename, attachment.content_type) == (name, "message/rfc822")


@pytest.mark.parametrize(
    ("headers", "inline"),
    [
        (b"Content-Type: image/png\r\nContent-Disposition: inline; filename=a.png", True),
        (b"Content-Type: image/png\r\nContent-ID: <a@b>", True),
        (b"Content-Type: image/png\r\nContent-ID: <a@b>\r\nContent-Disposition: attachment", False),
        (b"Content-Type: image/png\r\nContent-Disposition: attachment; filename=a.png", False),
        (b"Content-Type: application/pdf\r\nContent-Disposition: inline; filename=a.pdf", False),
    ],
)
def test_inline_means_an_image_shown_in_the_body(headers, inline):
    raw = (
        b"From: a@b.example\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"
        b"Content-Type: text/plain\r\n\r\nhi\r\n--b\r\n" + headers + b"\r\n\r\nxx\r\n--b--\r\n"
    )
    (attachment,) = parse_message(raw).attachments
    assert attachment.inline is inline


@pytest.mark.parametrize(
    ("subject", "decoded"),
    [
        ("Привет =?utf-8?q?J=C3=B6rg?= und =?utf-8?b?w6Q=?=".encode(), "Привет Jörg und ä"),
        (b"=?utf-8?q?a?= =?utf-8?q?b?=  c", "ab c"),
        (b"=?utf-8?q?a?=\r\n =?utf-8?q?_b?=", "a b"),
        (b"=?bogus?q?x?= =?utf-8?b?!!!?= y", "x y"),  # undecodable base64 reads as nothing
        (b"no words here", "no words here"),
        (b"=?utf-8?q?tab=09and=0Anewline?=", "tab and newline"),
    ],
)
def test_subjects(subject, decoded):
    assert parse_message(b"From: a@b.example\r\nSubject: " + subject + b"\r\n\r\nx").subject == decoded


@pytest.mark.parametrize(
    ("content_type", "name"),
    [
        ("image/jpeg", "image.jpg"),
        ("image/png", "image.png"),
        ("text/plain", "attachment.txt"),
        ("application/pdf", "attachment.pdf"),
        ("text/calendar", "attachment.ics"),
        ("application/x-unheard-of", "attachment.bin"),
        ("not a type", "attachment.txt"),  # an unreadable Content-Type is text/plain (RFC 2045)
    ],
)
def test_unnamed_parts_are_named_by_type(content_type, name):
    raw = (
        b"From: a@b.example\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"
        b"Content-Type: text/plain\r\n\r\nhi\r\n--b\r\nContent-Type: " + content_type.encode() + b"\r\n"
        b"Content-Disposition: attachment\r\n\r\nxx\r\n--b--\r\n"
    )
    (attachment,) = parse_message(raw).attachments
    assert attachment.filename == name
