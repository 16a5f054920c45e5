"""Rules for comment attachments: accepted types, file names, storage layout.

No database here. The service (services.attachments) applies these rules; the
download view uses ``storage`` and ``served_content_type``.

Storage layout: ``HELPDESK_ATTACHMENT_ROOT/<2 hex>/<32 hex>``, a random name
without extension, so nothing the uploader chose reaches the file system and no
web server could map a stored file to a type by its name. The root is outside
the web root; files are only read by the download view after a visibility check.
"""

from __future__ import annotations

import os
import re
import secrets
import unicodedata

from django.conf import settings
from django.core.files.storage import FileSystemStorage

# Extension -> content type recorded for the file. Anything else is refused:
# no HTML, SVG, XML, scripts or executables.
ALLOWED_TYPES: dict[str, str] = {
    "png": "image/png",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "gif": "image/gif",
    "webp": "image/webp",
    "pdf": "application/pdf",
    "txt": "text/plain",
    "log": "text/plain",
    "csv": "text/csv",
    "json": "application/json",
    "zip": "application/zip",
    "gz": "application/gzip",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "odt": "application/vnd.oasis.opendocument.text",
    "ods": "application/vnd.oasis.opendocument.spreadsheet",
}

# Types a download is labelled with; everything else is application/octet-stream.
# Every download is `Content-Disposition: attachment` with `nosniff` either way.
SERVED_TYPES = frozenset(
    {
        "image/png",
        "image/jpeg",
        "image/gif",
        "image/webp",
        "application/pdf",
        "text/plain",
        "text/csv",
        "application/json",
        "application/zip",
        "application/gzip",
    }
)

_ZIP = (b"PK\x03\x04", b"PK\x05\x06")
# Leading bytes binary formats must start with: a ".png" that is really HTML is refused.
SIGNATURES: dict[str, tuple[bytes, ...]] = {
    "png": (b"\x89PNG\r\n\x1a\n",),
    "jpg": (b"\xff\xd8\xff",),
    "jpeg": (b"\xff\xd8\xff",),
    "gif": (b"GIF87a", b"GIF89a"),
    "webp": (b"RIFF",),  # and "WEBP" at offset 8, checked below
    "pdf": (b"%PDF-",),
    "zip": _ZIP,
    "gz": (b"\x1f\x8b",),
    "docx": _ZIP,
    "xlsx": _ZIP,
    "odt": _ZIP,
    "ods": _ZIP,
}
SIGNATURE_BYTES = 16

MAX_NAME = 255
# A multipart body carries the file plus boundaries and headers; a Content-Length
# above the limit plus this much is refused before the body is read.
MULTIPART_SLACK = 64 * 1024


def max_bytes() -> int:
    return settings.HELPDESK_ATTACHMENT_MAX_MB * 1024 * 1024


def too_large_message() -> str:
    return f"The file is larger than {settings.HELPDESK_ATTACHMENT_MAX_MB} MB."


def allowed_extensions_text() -> str:
    return ", ".join(sorted(ALLOWED_TYPES))


def clean_filename(raw: str | None) -> str:
    """The uploader's file name made safe to store and to send back in a header:
    the last path component only (either separator), no control or format
    characters (NUL, CR/LF, right-to-left override), no leading or trailing dots
    or spaces, at most 255 characters with the extension kept."""
    name = unicodedata.normalize("NFC", raw or "")
    name = re.split(r"[/\\]", name)[-1]
    name = "".join(ch for ch in name if not unicodedata.category(ch).startswith("C"))
    name = " ".join(name.split()).strip(" .")
    if len(name) > MAX_NAME:
        stem, ext = os.path.splitext(name)
        ext = ext if len(ext) <= 17 else ""
        name = stem[: MAX_NAME - len(ext)].rstrip(" .") + ext
    return name


def extension_of(name: str) -> str:
    stem, dot, ext = name.rpartition(".")
    return ext.lower() if dot and stem else ""


def content_type_for(name: str) -> str | None:
    """The content type recorded for an accepted name; None when the type is refused."""
    return ALLOWED_TYPES.get(extension_of(name))


def signature_matches(name: str, head: bytes) -> bool:
    """Whether the file's first bytes fit its extension (text types are not checked)."""
    ext = extension_of(name)
    expected = SIGNATURES.get(ext)
    if expected is None:
        return True
    if not head.startswith(expected):
        return False
    return ext != "webp" or head[8:12] == b"WEBP"


def served_content_type(content_type: str) -> str:
    return content_type if content_type in SERVED_TYPES else "application/octet-stream"


def new_stored_name() -> str:
    token = secrets.token_hex(16)
    return f"{token[:2]}/{token}"


def storage() -> FileSystemStorage:
    """The attachment store, read from settings on each call (tests move it)."""
    return FileSystemStorage(
        location=settings.HELPDESK_ATTACHMENT_ROOT,
        base_url=None,
        file_permissions_mode=0o640,
        directory_permissions_mode=0o750,
    )
