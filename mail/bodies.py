"""Message bodies as text: bytes in any charset to clean text, HTML to text, and the
reply without its quoted history and signature.

Pure functions, no database, no settings. Every string they return encodes as UTF-8
and holds no NUL, no other C0 or C1 control character except newline and tab, and no
lone surrogate (``clean_text``): whatever a sender's client produced, the result can
be stored in PostgreSQL and shown on a page.
"""

from __future__ import annotations

import codecs
import re
from html.parser import HTMLParser

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
MAX_HTML_CHARS = 2_000_000  # HTML beyond this is not converted (the converter is pure Python)


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


# --- HTML to text -----------------------------------------------------------------

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


# --- The reply without quoted history and signature ------------------------------

# "On <date>, <name> wrote:" and its translations; a client may wrap it over two or
# three lines, so candidates are tried on a line joined with the next two.
_ATTRIBUTION = re.compile(
    r"""^\s*(?:
        On\s.{1,250}?\swrote\s?:                  # en (Gmail, Apple Mail, Thunderbird)
      | Am\s.{1,250}?\sschrieb\s.{0,200}?:        # de
      | Le\s.{1,250}?\sa\s[ée]crit\s?:            # fr
      | El\s.{1,250}?\sescribi[óo]\s?:            # es
      | Op\s.{1,250}?\sschreef\s.{0,200}?:        # nl
      | Il\s.{1,250}?\sha\sscritto\s?:            # it
      | Em\s.{1,250}?\sescreveu\s?:               # pt
      | Den\s.{1,250}?\sskrev\s.{0,200}?:         # sv, da, no
    )\s*$""",
    re.IGNORECASE | re.VERBOSE,
)
# Thunderbird's short form ("Max Muster schrieb:"), on one line of its own only.
_ATTRIBUTION_SHORT = re.compile(
    r"^\s*\S.{0,120}?\s(?:schrieb|schreef|wrote|a\s[ée]crit|escribi[óo]|skrev)\s?:\s*$", re.IGNORECASE
)
_SEPARATOR = re.compile(
    r"""^\s*-{2,}\s*(?:
        Original\sMessage | Forwarded\smessage | Ursprüngliche\sNachricht | Weitergeleitete\sNachricht
      | Message\sd'origine | Message\stransféré | Mensaje\soriginal | Mensaje\sreenviado
      | Oorspronkelijk\sbericht | Doorgestuurd\sbericht | Messaggio\soriginale | Mensagem\soriginal
    )\s*-{2,}\s*$""",
    re.IGNORECASE | re.VERBOSE,
)
# Outlook's quoted header block: a "From:" line with a "Sent:" (or "Date:") line
# within the next few lines, in the client's language; "*From:*" when it came from HTML.
_HEADER_FROM = re.compile(r"^\s*\*?(?:From|Von|De|Van|Da|Från|Fra)\s?:\*?\s", re.IGNORECASE)
_HEADER_SENT = re.compile(
    r"^\s*\*?(?:Sent|Date|Gesendet|Datum|Envoyé|Date d'envoi|Enviado(?:\sel)?|Fecha|Verzonden|Verstuurd|Inviato|Data|Skickat|Sendt)\s?:\*?\s",
    re.IGNORECASE,
)
# The rule above that block: Outlook's underscores in text, an <hr> ("---") in HTML.
_RULE = re.compile(r"^\s*(?:_{10,}|-{3,})\s*$")
# The signature delimiter ("-- ", RFC 3676; "--" when a client trimmed the space)
# and the mobile clients' one-line signatures.
_SIGNATURE = re.compile(r"^(?:-- ?|—)$")
_MOBILE = re.compile(
    r"""^\s*(?:
        Sent\sfrom\smy\s.{1,60} | Sent\sfrom\s(?:Outlook|Mail|Yahoo\sMail|Gmail|Samsung).{0,60}
      | Get\sOutlook\sfor\s.{1,40} | Sent\svia\s.{1,60}
      | Von\smeinem\s.{1,60}\sgesendet | Gesendet\svon\s(?:meinem\s)?.{1,60}
      | Envoy[ée]\sde\smon\s.{1,60} | Envoy[ée]\sdepuis\s(?:mon\s)?.{1,60}
      | Enviado\sdesde\smi\s.{1,60} | Verzonden\svanaf\smijn\s.{1,60} | Verstuurd\svanaf\smijn\s.{1,60}
      | Inviato\sda\s.{1,60}
    )\s*$""",
    re.IGNORECASE | re.VERBOSE,
)


def _history_start(lines: list[str]) -> int | None:
    """The index of the first line of quoted history, or None."""
    for index, line in enumerate(lines):
        stripped = line.strip()
        if not stripped or stripped.startswith(">"):
            continue
        if _SEPARATOR.match(stripped):
            return index
        if _RULE.match(stripped) and any(_HEADER_FROM.match(n + " ") for n in lines[index + 1 : index + 3]):
            return index
        if _HEADER_FROM.match(stripped + " ") and any(
            _HEADER_SENT.match(n + " ") for n in lines[index + 1 : index + 5]
        ):
            return index
        joined = stripped
        for extra in range(3):
            if len(joined) <= 600 and (_ATTRIBUTION.match(joined) or (extra == 0 and _ATTRIBUTION_SHORT.match(joined))):
                following = lines[index + extra + 1 : index + extra + 4]
                # An attribution is followed by the quote (">" lines, or nothing left);
                # "Am Montag schrieb ich:" in running text is not one.
                if not following or any(n.strip().startswith(">") or not n.strip() for n in following):
                    return index
            # A wrapped attribution goes on in the next line, never past a blank one.
            if index + extra + 1 >= len(lines) or not lines[index + extra + 1].strip():
                break
            joined = f"{joined} {lines[index + extra + 1].strip()}"
    return None


def reply_text(text: str) -> str:
    """The part of ``text`` the sender wrote: without the quoted history (from the
    first attribution line, Outlook separator or header block on), without ``>``
    quoted lines, without the signature (from a ``-- `` line, or a mobile client's
    "Sent from my iPhone" on). Never empty when ``text`` is not: when nothing would
    remain (a bare forward), ``text`` itself."""
    lines = text.split("\n")
    cut = _history_start(lines)
    if cut is not None:
        lines = lines[:cut]
    kept: list[str] = []
    for line in lines:
        if _SIGNATURE.match(line) or _MOBILE.match(line):
            break
        if line.lstrip().startswith(">"):
            continue
        kept.append(line)
    result = tidy("\n".join(kept))
    return result if result.strip() else text
