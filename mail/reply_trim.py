"""The reply without its quoted history and signature (``reply_text``): what the sender
wrote above an attribution line ("On <date>, <name> wrote:" in several languages), an
Outlook separator or header block, a ``-- `` signature or a mobile client's "Sent from
my iPhone".

Pure, no database, no settings; works on text (an HTML body after ``mail.html_text``).
"""

from __future__ import annotations

import re

from mail.bodies import tidy

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
