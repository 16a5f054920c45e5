"""Comment attachments (docs/PRODUCT.md "Attachments", docs/API.md "Tickets"): who uploads and downloads what, limits, file
names, storage outside the web root, download headers, and the orphan sweep."""

from __future__ import annotations

import hashlib
import os
import re
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from helpdesk.roles import Role
from helpdesk.tests.factories import UserFactory
from tickets import attachment_rules, events, services
from tickets.events import EventKind
from tickets.models import Attachment, Comment, Status, Ticket, TicketEvent
from tickets.tests.factories import CommentFactory, TicketFactory

pytestmark = pytest.mark.django_db

TICKETS = "/api/v1/tickets/"
DOWNLOAD = "/api/v1/attachments/"
BIG_ID = 10**30
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
PDF = b"%PDF-1.7\n" + b"x" * 500
STORED = re.compile(r"[0-9a-f]{2}/[0-9a-f]{32}")


@pytest.fixture(autouse=True)
def root(settings, tmp_path) -> Path:
    """Every test stores its files in its own directory, never in var/."""
    settings.HELPDESK_ATTACHMENT_ROOT = tmp_path / "attachments"
    return settings.HELPDESK_ATTACHMENT_ROOT


def stored_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def upload_url(comment: Comment, ticket: Ticket | int | None = None) -> str:
    tid = comment.ticket_id if ticket is None else (ticket.pk if isinstance(ticket, Ticket) else ticket)
    return f"{TICKETS}{tid}/comments/{comment.pk}/attachments/"


def upload(client, comment: Comment, name: str = "screen.png", content: bytes = PNG, **kwargs):
    file = SimpleUploadedFile(name, content, content_type=kwargs.pop("content_type", "image/png"))
    return client.post(upload_url(comment, kwargs.pop("ticket", None)), {"file": file}, format="multipart", **kwargs)


def raw_upload(client, comment: Comment, filename: str, content: bytes = b"plain text\n"):
    """A multipart body built by hand: the test client would strip a path from the name."""
    boundary = "----helpdesk-test-boundary"
    body = (
        f"--{boundary}\r\n"
        f'Content-Disposition: form-data; name="file"; filename="{filename}"\r\n'
        "Content-Type: text/html\r\n\r\n"
    ).encode() + content + f"\r\n--{boundary}--\r\n".encode()
    return client.generic(
        "POST", upload_url(comment), body, content_type=f"multipart/form-data; boundary={boundary}"
    )


def state(ticket: Ticket, root: Path) -> dict:
    fresh = Ticket.objects.get(pk=ticket.pk)
    return {
        "version": fresh.version,
        "attachments": list(Attachment.objects.values_list("id", flat=True)),
        "events": TicketEvent.objects.filter(ticket=fresh).count(),
        "files": stored_files(root),
    }


def content_of(response) -> bytes:
    return b"".join(response.streaming_content)


@pytest.fixture
def ticket(customer):
    return TicketFactory(requester=customer)


@pytest.fixture
def customer_comment(ticket, customer):
    return CommentFactory(ticket=ticket, author=customer, internal=False)


@pytest.fixture
def internal_note(ticket, l1):
    return CommentFactory(ticket=ticket, author=l1, internal=True)


@pytest.fixture
def public_answer(ticket, l1):
    return CommentFactory(ticket=ticket, author=l1, internal=False)


# --- upload ---------------------------------------------------------------------------------------


def test_agent_attaches_a_screenshot(api, l1, ticket, customer_comment, root):
    r = upload(api.as_(l1), customer_comment)
    assert r.status_code == 201, r.data
    assert set(r.data) == {"id", "name", "size", "url"}
    assert (r.data["name"], r.data["size"]) == ("screen.png", len(PNG))
    assert r.data["url"] == f"{DOWNLOAD}{r.data['id']}/"
    attachment = Attachment.objects.get(pk=r.data["id"])
    assert attachment.sha256 == hashlib.sha256(PNG).hexdigest()
    assert (attachment.content_type, attachment.uploaded_by_id, attachment.comment_id) == (
        "image/png",
        l1.pk,
        customer_comment.pk,
    )
    # Stored outside the web root under a random name, never the uploader's.
    assert STORED.fullmatch(attachment.stored_name) and "screen" not in attachment.stored_name
    path = root / attachment.stored_name
    assert stored_files(root) == [path]
    assert path.read_bytes() == PNG
    assert oct(path.stat().st_mode & 0o777) == oct(0o640)
    event = TicketEvent.objects.get(ticket=ticket, kind=EventKind.ATTACHMENT_ADDED)
    assert event.actor_id == l1.pk
    assert event.data == {
        "comment": customer_comment.pk,
        "attachment": attachment.pk,
        "name": "screen.png",
        "size": len(PNG),
        "internal": False,
    }
    assert Ticket.objects.get(pk=ticket.pk).version == ticket.version + 1


@pytest.mark.parametrize("role", ["l1", "l2", "l3", "manager", "admin_user"])
def test_every_agent_attaches_to_any_comment_they_can_see(api, request, role, root):
    t = TicketFactory(tier=3)  # agents read every ticket, whatever its tier
    note = CommentFactory(ticket=t, author=UserFactory(role=Role.L3), internal=True)
    r = upload(api.as_(request.getfixturevalue(role)), note, "trace.log", b"ERROR boom\n", content_type="text/plain")
    assert r.status_code == 201, r.data
    assert Attachment.objects.get().comment_id == note.pk


def test_customer_attaches_to_their_own_public_comment(api, customer, customer_comment, root):
    r = upload(api.as_(customer), customer_comment, "error.pdf", PDF, content_type="application/pdf")
    assert r.status_code == 201, r.data
    assert Attachment.objects.get().uploaded_by_id == customer.pk


def test_customer_cannot_attach_to_an_agents_comment(api, customer, ticket, public_answer, root):
    before = state(ticket, root)
    r = upload(api.as_(customer), public_answer)
    assert r.status_code == 403
    assert state(ticket, root) == before


def test_internal_comments_and_foreign_tickets_are_404_for_customers(api, customer, other_customer, internal_note, root):
    foreign_ticket = TicketFactory(requester=other_customer)
    foreign_comment = CommentFactory(ticket=foreign_ticket, author=other_customer)
    client = api.as_(customer)
    before = state(internal_note.ticket, root)
    r_internal = upload(client, internal_note)
    r_foreign = upload(client, foreign_comment)
    missing = client.post(f"{TICKETS}{internal_note.ticket_id}/comments/999999/attachments/", {}, format="multipart")
    assert r_internal.status_code == r_foreign.status_code == missing.status_code == 404
    assert r_internal.data == r_foreign.data == missing.data
    assert state(internal_note.ticket, root) == before
    assert not Attachment.objects.exists()


def test_a_comment_must_belong_to_the_ticket_in_the_path(api, l1, customer_comment, root):
    other = TicketFactory()
    r = upload(api.as_(l1), customer_comment, ticket=other)
    assert r.status_code == 404
    assert not Attachment.objects.exists() and stored_files(root) == []


def test_anonymous_upload_is_401(api, customer_comment, root):
    assert upload(api.as_(None), customer_comment).status_code == 401
    assert not Attachment.objects.exists() and stored_files(root) == []


def test_closed_ticket_takes_no_attachments(api, l1, customer, root):
    t = TicketFactory(requester=customer, status=Status.CLOSED)
    comment = CommentFactory(ticket=t, author=customer)
    before = state(t, root)
    assert upload(api.as_(l1), comment).status_code == 409
    assert state(t, root) == before


# --- bad input: a clear 4xx and nothing stored ---------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("page.html", b"<script>alert(1)</script>"),
        ("page.htm", b"<html></html>"),
        ("logo.svg", b"<svg onload=alert(1)></svg>"),
        ("setup.exe", b"MZ\x90\x00"),
        ("app.js", b"alert(1)"),
        ("data.xml", b"<x/>"),
        ("archive.tar", b"x" * 600),
        ("notes.txt.html", b"<b>x</b>"),
        ("noextension", b"text"),
        (".txt", b"text"),  # a hidden name, not an extension
        ("shell.php", b"<?php ?>"),
    ],
)
def test_refused_types_are_400(api, l1, ticket, customer_comment, root, name, content):
    before = state(ticket, root)
    r = upload(api.as_(l1), customer_comment, name, content, content_type="text/plain")
    assert r.status_code == 400, r.data
    assert "file" in r.data and "allowed" in r.data["file"][0]
    assert state(ticket, root) == before


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("photo.png", b"<html><script>alert(1)</script></html>"),
        ("scan.jpg", b"GIF89a....."),
        ("doc.pdf", b"just text"),
        ("bundle.zip", b"not a zip"),
        ("image.webp", b"RIFF\x00\x00\x00\x00WAVEfmt "),
        ("report.docx", b"<xml/>"),
    ],
)
def test_content_must_match_a_binary_extension(api, l1, ticket, customer_comment, root, name, content):
    before = state(ticket, root)
    r = upload(api.as_(l1), customer_comment, name, content)
    assert r.status_code == 400, r.data
    assert "not a valid" in r.data["file"][0]
    assert state(ticket, root) == before


def test_empty_file_is_400(api, l1, ticket, customer_comment, root):
    before = state(ticket, root)
    r = upload(api.as_(l1), customer_comment, "empty.txt", b"")
    assert r.status_code == 400 and "empty" in r.data["file"][0]
    assert state(ticket, root) == before


@pytest.mark.parametrize(
    "body",
    [{}, {"file": ""}, {"file": "not a file"}, {"other": SimpleUploadedFile("x.txt", b"x")}],
)
def test_missing_file_is_400(api, l1, ticket, customer_comment, root, body):
    before = state(ticket, root)
    r = api.as_(l1).post(upload_url(customer_comment), body, format="multipart")
    assert r.status_code == 400 and "file" in r.data
    assert state(ticket, root) == before


def test_json_body_is_415(api, l1, ticket, customer_comment, root):
    before = state(ticket, root)
    r = api.as_(l1).post(upload_url(customer_comment), {"file": "aGVsbG8="}, format="json")
    assert r.status_code == 415
    assert state(ticket, root) == before


def test_broken_multipart_is_400(api, l1, ticket, customer_comment, root):
    before = state(ticket, root)
    r = api.as_(l1).generic(
        "POST", upload_url(customer_comment), b"--x\r\nnonsense", content_type="multipart/form-data; boundary=x"
    )
    assert r.status_code == 400
    assert state(ticket, root) == before


def test_a_file_just_over_the_limit_is_413(api, l1, ticket, customer_comment, root, settings):
    settings.HELPDESK_ATTACHMENT_MAX_MB = 1
    before = state(ticket, root)
    r = upload(api.as_(l1), customer_comment, "big.log", b"x" * (1024 * 1024 + 1), content_type="text/plain")
    assert r.status_code == 413, r.data
    assert r.data == {"file": ["The file is larger than 1 MB."]}
    assert state(ticket, root) == before
    exact = upload(api.as_(l1), customer_comment, "fits.log", b"x" * (1024 * 1024), content_type="text/plain")
    assert exact.status_code == 201 and exact.data["size"] == 1024 * 1024


def test_a_body_too_large_to_fit_is_refused_before_it_is_read(api, l1, ticket, customer_comment, root, settings):
    settings.HELPDESK_ATTACHMENT_MAX_MB = 1
    before = state(ticket, root)
    r = upload(api.as_(l1), customer_comment, "huge.log", b"x" * (2 * 1024 * 1024), content_type="text/plain")
    assert r.status_code == 413 and "1 MB" in r.data["file"][0]
    assert state(ticket, root) == before


def test_a_failing_transaction_leaves_no_file(api, l1, ticket, customer_comment, root, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("audit trail unavailable")

    monkeypatch.setattr(events, "attachment_added", broken)
    with pytest.raises(RuntimeError):
        services.attachment_create(
            comment=customer_comment, actor=l1, upload=SimpleUploadedFile("a.png", PNG)
        )
    assert not Attachment.objects.exists()
    assert stored_files(root) == []


# --- file names ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("report.pdf", "report.pdf"),
        ("../../etc/passwd.txt", "passwd.txt"),
        ("..\\..\\windows\\evil.txt", "evil.txt"),
        ("/abs/path/x.log", "x.log"),
        ("a\x00b.txt", "ab.txt"),
        ("line\r\nbreak.txt", "linebreak.txt"),
        ("invoice\u202egnp.txt", "invoicegnp.txt"),
        ("  ..hidden.txt. ", "hidden.txt"),
        ("many    spaces.txt", "many spaces.txt"),
        ("..", ""),
        ("", ""),
        (None, ""),
    ],
)
def test_clean_filename(raw, clean):
    assert attachment_rules.clean_filename(raw) == clean


def test_long_names_are_shortened_keeping_the_extension():
    name = attachment_rules.clean_filename("é" * 1000 + ".log")
    assert len(name) == 255 and name.endswith(".log")
    assert attachment_rules.clean_filename("a" * 300) == "a" * 255


@pytest.mark.parametrize(
    ("filename", "expected"),
    [
        ("../../evil.txt", "evil.txt"),
        ("..\\..\\evil.txt", "evil.txt"),
        ("x" * 300 + ".txt", "x" * 251 + ".txt"),
        ("rtl\u202etxt.exe.txt", "rtltxt.exe.txt"),
    ],
)
def test_uploaded_names_are_sanitised_and_never_reach_the_file_system(
    api, l1, customer_comment, root, tmp_path, filename, expected
):
    r = raw_upload(api.as_(l1), customer_comment, filename)
    assert r.status_code == 201, r.data
    assert r.data["name"] == expected
    stored = Attachment.objects.get().stored_name
    assert [p.relative_to(root).as_posix() for p in stored_files(root)] == [stored]
    # Nothing was written next to or above the attachment root.
    assert [p for p in tmp_path.rglob("*") if p.is_file() and root not in p.parents] == []


def test_nul_in_the_multipart_file_name_never_reaches_the_row(api, l1, customer_comment, root):
    r = raw_upload(api.as_(l1), customer_comment, "a\x00b.txt")
    assert r.status_code == 201, r.data
    assert r.data["name"] == "ab.txt"
    assert list(Attachment.objects.values_list("name", flat=True)) == ["ab.txt"]


def test_a_name_too_long_for_the_multipart_headers_is_400(api, l1, ticket, customer_comment, root):
    before = state(ticket, root)
    r = raw_upload(api.as_(l1), customer_comment, "x" * 5000 + ".txt")
    assert r.status_code == 400 and "header size" in r.data["detail"]
    assert state(ticket, root) == before


# --- download ----------------------------------------------------------------------------------------------------


@pytest.fixture
def shot(api, l1, customer_comment):
    r = upload(api.as_(l1), customer_comment)
    assert r.status_code == 201
    return Attachment.objects.get(pk=r.data["id"])


def test_download_headers_make_it_a_download(api, l1, shot):
    r = api.as_(l1).get(f"{DOWNLOAD}{shot.pk}/")
    assert r.status_code == 200
    assert content_of(r) == PNG
    assert r["Content-Disposition"] == 'attachment; filename="screen.png"'
    assert r["Content-Type"] == "image/png"
    assert r["X-Content-Type-Options"] == "nosniff"
    assert r["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert "no-store" in r["Cache-Control"]
    assert int(r["Content-Length"]) == len(PNG)


@pytest.mark.parametrize(
    ("name", "content", "served"),
    [
        ("notes.txt", b"hello", "text/plain"),
        ("table.csv", b"a,b\n1,2\n", "text/csv"),
        ("paper.pdf", PDF, "application/pdf"),
        ("report.docx", b"PK\x03\x04" + b"x" * 100, "application/octet-stream"),
        ("sheet.ods", b"PK\x03\x04" + b"x" * 100, "application/octet-stream"),
    ],
)
def test_download_content_types_come_from_a_short_list(api, l1, customer_comment, name, content, served):
    r = upload(api.as_(l1), customer_comment, name, content, content_type="text/html")
    assert r.status_code == 201, r.data
    got = api.as_(l1).get(r.data["url"])
    assert got["Content-Type"] == served
    assert got["Content-Disposition"].startswith("attachment;")
    assert content_of(got) == content


def test_non_ascii_and_quoted_names_are_encoded_in_the_header(api, l1, customer_comment):
    r = raw_upload(api.as_(l1), customer_comment, 'Rechnung "März".txt'.replace('"', "'"))
    assert r.status_code == 201, r.data
    got = api.as_(l1).get(r.data["url"])
    assert got["Content-Disposition"].startswith("attachment; filename*=utf-8''")
    assert "M%C3%A4rz" in got["Content-Disposition"]
    assert upload(api.as_(l1), customer_comment, 'a"b.txt', b"x", content_type="text/plain").status_code == 201
    quoted = Attachment.objects.get(name='a"b.txt')
    assert api.as_(l1).get(f"{DOWNLOAD}{quoted.pk}/")["Content-Disposition"] == 'attachment; filename="a\\"b.txt"'


def test_download_ignores_the_accept_header(api, l1, shot):
    r = api.as_(l1).get(f"{DOWNLOAD}{shot.pk}/", HTTP_ACCEPT="application/octet-stream")
    assert r.status_code == 200 and content_of(r) == PNG
    missing = api.as_(l1).get(f"{DOWNLOAD}999999/", HTTP_ACCEPT="application/octet-stream")
    assert missing.status_code == 404 and missing.json() == {"detail": "Not found."}


@pytest.mark.parametrize("role", ["customer", "l1", "l2", "l3", "manager", "admin_user"])
def test_public_comment_attachments_download_for_the_requester_and_agents(api, request, role, shot):
    r = api.as_(request.getfixturevalue(role)).get(f"{DOWNLOAD}{shot.pk}/")
    assert r.status_code == 200 and content_of(r) == PNG


def test_internal_and_foreign_attachments_are_404_for_customers(api, l1, customer, other_customer, internal_note):
    secret = upload(api.as_(l1), internal_note, "secret.txt", b"root password", content_type="text/plain")
    assert secret.status_code == 201
    foreign_ticket = TicketFactory(requester=other_customer)
    foreign_comment = CommentFactory(ticket=foreign_ticket, author=other_customer)
    foreign = upload(api.as_(other_customer), foreign_comment, "mine.txt", b"private", content_type="text/plain")
    assert foreign.status_code == 201
    client = api.as_(customer)
    r_secret = client.get(secret.data["url"])
    r_foreign = client.get(foreign.data["url"])
    missing = client.get(f"{DOWNLOAD}999999/")
    assert r_secret.status_code == r_foreign.status_code == missing.status_code == 404
    assert r_secret.json() == r_foreign.json() == missing.json()
    assert b"root password" not in r_secret.content
    # The agent and the other customer still get theirs.
    assert api.as_(l1).get(secret.data["url"]).status_code == 200
    assert api.as_(other_customer).get(foreign.data["url"]).status_code == 200


def test_customer_does_not_see_internal_attachments_in_comments_or_events(api, l1, customer, ticket, internal_note, shot):
    upload(api.as_(l1), internal_note, "secret.txt", b"x", content_type="text/plain")
    comments = api.as_(customer).get(f"{TICKETS}{ticket.pk}/comments/").data["results"]
    assert [[a["name"] for a in c["attachments"]] for c in comments] == [["screen.png"]]
    assert comments[0]["attachments"][0] == {
        "id": shot.pk,
        "name": "screen.png",
        "size": len(PNG),
        "url": f"{DOWNLOAD}{shot.pk}/",
    }
    agent_comments = api.as_(l1).get(f"{TICKETS}{ticket.pk}/comments/").data["results"]
    assert [[a["name"] for a in c["attachments"]] for c in agent_comments] == [["secret.txt"], ["screen.png"]]
    customer_events = api.as_(customer).get(f"{TICKETS}{ticket.pk}/events/").data["results"]
    added = [e for e in customer_events if e["kind"] == EventKind.ATTACHMENT_ADDED]
    assert [e["data"]["name"] for e in added] == ["screen.png"]
    assert "secret.txt" not in str(api.as_(customer).get(f"{TICKETS}{ticket.pk}/events/").content)


def test_anonymous_download_is_401(api, shot):
    r = api.as_(None).get(f"{DOWNLOAD}{shot.pk}/")
    assert r.status_code == 401 and b"PNG" not in r.content


@pytest.mark.parametrize("pk", [str(BIG_ID), "abc", "-1", str(2**63), "1.5", "9" * 400, "%00"])
def test_junk_attachment_ids_are_404(api, l1, shot, pk):
    assert api.as_(l1).get(f"{DOWNLOAD}{pk}/").status_code == 404


@pytest.mark.parametrize("cid", [str(BIG_ID), "abc", "-1", str(2**63), "1.5"])
def test_junk_comment_ids_are_404(api, l1, ticket, root, cid):
    before = state(ticket, root)
    file = SimpleUploadedFile("a.png", PNG)
    r = api.as_(l1).post(f"{TICKETS}{ticket.pk}/comments/{cid}/attachments/", {"file": file}, format="multipart")
    assert r.status_code == 404
    assert state(ticket, root) == before


def test_a_file_missing_on_disk_is_404_not_500(api, l1, shot, root):
    (root / shot.stored_name).unlink()
    r = api.as_(l1).get(f"{DOWNLOAD}{shot.pk}/")
    assert r.status_code == 404 and r.json() == {"detail": "The file is no longer available."}


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_downloads_are_read_only(api, manager, shot, root, method):
    r = getattr(api.as_(manager), method)(f"{DOWNLOAD}{shot.pk}/", {}, format="json")
    assert r.status_code == 405
    assert Attachment.objects.filter(pk=shot.pk).exists() and (root / shot.stored_name).read_bytes() == PNG


# --- deletion and the sweep ---------------------------------------------------------------------------------------


def test_deleting_a_comment_removes_its_rows_and_the_sweep_its_files(shot, root):
    kept_comment = CommentFactory(ticket=shot.comment.ticket)
    kept = services.attachment_create(
        comment=kept_comment, actor=kept_comment.author, upload=SimpleUploadedFile("k.txt", b"keep")
    )
    orphan_path = root / shot.stored_name
    Comment.objects.filter(pk=shot.comment_id).delete()
    assert not Attachment.objects.filter(pk=shot.pk).exists()
    assert orphan_path.exists()  # files wait for the sweep

    young = root / "ab" / ("c" * 32)  # a file whose upload is still in flight
    young.parent.mkdir(parents=True, exist_ok=True)
    young.write_bytes(b"in flight")
    foreign = root / "README"
    foreign.write_text("not ours")
    old = time.time() - 3 * 86400
    os.utime(orphan_path, (old, old))
    os.utime(root / kept.stored_name, (old, old))

    assert services.attachment_files_purge(older_than=timedelta(days=1)) == 1
    assert not orphan_path.exists()
    assert (root / kept.stored_name).read_bytes() == b"keep"
    assert young.exists() and foreign.exists()
    assert services.attachment_files_purge(older_than=timedelta(0)) == 1  # now the young orphan too
    assert not young.exists() and foreign.exists()


def test_the_sweep_without_a_root_does_nothing(settings, tmp_path):
    settings.HELPDESK_ATTACHMENT_ROOT = tmp_path / "nowhere"
    assert services.attachment_files_purge() == 0
    assert not (tmp_path / "nowhere").exists()


def test_the_sweep_task_runs_the_service(shot, root):
    from tickets.tasks import purge_attachment_files

    Comment.objects.filter(pk=shot.comment_id).delete()
    old = time.time() - 3 * 86400
    os.utime(root / shot.stored_name, (old, old))
    assert purge_attachment_files.delay().get() == 1
    assert stored_files(root) == []


# --- schema -------------------------------------------------------------------------------------------------------


def test_upload_and_download_are_in_the_schema(api):
    schema = api.as_(None).get("/api/schema/", {"format": "json"}).json()
    post = schema["paths"]["/api/v1/tickets/{id}/comments/{comment_id}/attachments/"]["post"]
    multipart = post["requestBody"]["content"]["multipart/form-data"]["schema"]["$ref"].rsplit("/", 1)[1]
    assert schema["components"]["schemas"][multipart]["properties"]["file"]["format"] == "binary"
    assert set(post["responses"]) >= {"201", "400", "413"}
    get = schema["paths"]["/api/v1/attachments/{id}/"]["get"]
    assert "application/octet-stream" in get["responses"]["200"]["content"]
