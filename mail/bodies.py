"""Message bodies as text: bytes in any charset to clean text, ``format=flowed``
unfolded, and the tidying every body gets (``tidy``). HTML to text is in
``mail.html_text``, the reply without its quoted history in ``mail.reply_trim``.

Pure functions, no database, no settings. Every string they return encodes as UTF-8
and holds no NUL, no other C0 or C1 control character except newline and tab, and no
lone surrogate (``clean_text``): whatever a sender's client produced, the result can
be stored in PostgreSQL and shown on a page.
"""

from __future__ import annotations

import codecs
import re

# Charset labels that mail clients send for a wider charset than they name: decoding
# with the superset loses nothing and reads what the sender's client really wrote
# (WHATWG's encoding standard makes the same choices for the web).
_SUPERSETS = {
    "iso-8859-1": "windows-1252",
    "iso8859-1": "windows-1252",
    "latin1": "windows-1252",
    "latin-1": "windows-1252",
    "us-ascii": "windows-1252",
    "ascii": "windows-1252",
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "shift_jis": "cp932",
    "shift-jis": "cp932",
    "sjis": "cp932",
    "x-sjis": "cp932",
    "euc-kr": "cp949",
    "ks_c_5601-1987": "cp949",
    "iso-2022-jp": "iso2022_jp_ext",
    "utf8": "utf-8",
    "unicode-1-1-utf-7": "utf-7",
}

_NOT_CHARSETS = frozenset({"punycode", "idna", "unicode-escape", "raw-unicode-escape", "undefined", "mbcs", "oem"})

# C0 and C1 controls except tab and newline, and every surrogate code point.
_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_SURROGATES = re.compile("[\ud800-\udfff]")
_NEWLINES = re.compile("\r\n?|[\x0b\x0c\x85\u2028\u2029]")

MAX_BODY_CHARS = 1_000_000  # a comment longer than this is cut (the .eml keeps everything)
MAX_BODY_BYTES = 4 * MAX_BODY_CHARS  # of one text part, read before decoding


def clean_text(value: str) -> str:
    """``value`` with newlines as ``\\n``, lone surrogates as U+FFFD and every other
    control character (NUL included) removed."""
    value = _NEWLINES.sub("\n", value)
    value = _SURROGATES.sub("\ufffd", value)
    return _CONTROLS.sub("", value)


def clean_line(value: str) -> str:
    """A header value or a name: ``clean_text`` on one line, every run of whitespace
    (CR and LF included, so nothing can be injected into a header) one space."""
    return " ".join(clean_text(value).split())


def codec_for(charset: str | None) -> str | None:
    """The Python text codec for a MIME charset label, or None when Python has none
    (or the label names a bytes-to-bytes codec such as ``zlib`` or ``base64``)."""
    if not charset:
        return None
    label = charset.strip().strip('"').lower()
    label = _SUPERSETS.get(label, label)
    try:
        info = codecs.lookup(label)
    except (LookupError, ValueError, TypeError):
        return None
    # codecs marks its bytes-to-bytes and str-to-str codecs (zlib, base64, rot13) as
    # no text encodings; the others listed decode Python source or domain names,
    # never mail (and punycode takes quadratic time).
    if not getattr(info, "_is_text_encoding", True) or info.name in _NOT_CHARSETS:
        return None
    return info.name


def decode_bytes(data: bytes, charset: str | None) -> str:
    """Bytes in the declared charset as clean text. An undeclared or unknown charset
    is read as UTF-8 when the bytes are valid UTF-8, else as windows-1252, else as
    latin-1 (which reads any byte). Invalid bytes in a known charset become U+FFFD."""
    codec = codec_for(charset)
    text: str | None = None
    if codec == "cp1252":
        # Labelled latin-1, windows-1252 or us-ascii: often UTF-8 under a client's
        # default label; Latin-1 text is almost never valid UTF-8 by accident.
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            text = data.decode("cp1252", "replace")
    elif codec is not None:
        try:
            text = data.decode(codec, "replace")
        except Exception:  # a codec may refuse its input in ways other than UnicodeError
            text = None
    if text is None:
        text = _guess(data)
    return clean_text(text)


# A multi-byte UTF-8 sequence: bytes holding one were written as UTF-8 (windows-1252
# text almost never holds one), even when other bytes in them are broken.
_UTF8_SEQUENCE = re.compile(rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}")


def _guess(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    if _UTF8_SEQUENCE.search(data):
        return data.decode("utf-8", "replace")
    try:
        return data.decode("windows-1252")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def unflow(text: str, *, delsp: bool) -> str:
    """A ``format=flowed`` text part (RFC 3676; Thunderbird, Apple Mail) as its
    paragraphs: a line ending in a space goes on in the next line of the same quote
    depth; space-stuffing removed; the ``-- `` signature line stays a line."""
    out: list[str] = []
    paragraph: str | None = None
    paragraph_depth = 0
    for line in text.split("\n"):
        depth = len(line) - len(line.lstrip(">"))
        content = line[depth:]
        if content.startswith(" "):
            content = content[1:]
        if paragraph is not None and (depth != paragraph_depth or content == "-- "):
            out.append(paragraph)
            paragraph = None
        flowed = content.endswith(" ") and content != "-- "
        if flowed and delsp:
            content = content[:-1]
        if paragraph is None:
            paragraph, paragraph_depth = ("> " * depth if depth else "") + content, depth
        else:
            paragraph += content
        if not flowed:
            out.append(paragraph)
            paragraph = None
    if paragraph is not None:
        out.append(paragraph)
    return "\n".join(out)


def tidy(text: str) -> str:
    """Trailing spaces off each line, at most one blank line in a row, no blank lines
    at either end, at most MAX_BODY_CHARS."""
    lines = [line.rstrip() for line in text.split("\n")]
    out: list[str] = []
    for line in lines:
        if line or (out and out[-1]):
            out.append(line)
    while out and not out[-1]:
        out.pop()
    return "\n".join(out)[:MAX_BODY_CHARS]
