"""Take one raw message from standard input for a mailbox: an MTA's pipe.

    python manage.py mail_ingest --mailbox support < message.eml

Prints what became of it (created, appended, duplicate, ignored, quarantined).
Exit status 0 whenever the message was stored (quarantine included), so the MTA
does not bounce or retry it; 75 (EX_TEMPFAIL, "try again later") when the
database cannot take it now; 67 (EX_NOUSER) for an unknown mailbox.
"""

from __future__ import annotations

import json
import sys

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from mail.models import Mailbox
from mail.services.ingest import mail_ingest

EX_NOUSER = 67
EX_TEMPFAIL = 75


class Command(BaseCommand):
    help = "Ingest one raw RFC 5322 message from standard input into a mailbox (an MTA's pipe)."

    def add_arguments(self, parser):
        parser.add_argument("--mailbox", required=True, help="The mailbox's name (or its address).")
        parser.add_argument("--json", action="store_true", dest="as_json", help="Print the outcome as JSON.")

    def handle(self, *args, mailbox: str, as_json: bool = False, **options):
        found = Mailbox.objects.filter(name=mailbox).first() or Mailbox.objects.filter(address=mailbox.lower()).first()
        if found is None:
            self.stderr.write(f"No mailbox named {mailbox!r}.")
            sys.exit(EX_NOUSER)
        raw = sys.stdin.buffer.read(settings.HELPDESK_MAIL_MAX_BYTES + 1)
        if not raw.strip():
            raise CommandError("No message on standard input.")
        try:
            result = mail_ingest(mailbox=found, raw=raw)
        except DatabaseError as exc:
            self.stderr.write(f"Cannot store the message now: {type(exc).__name__}.")
            sys.exit(EX_TEMPFAIL)
        if as_json:
            answer = {"outcome": result.outcome, "ticket": result.ticket, "comment": result.comment}
            self.stdout.write(json.dumps({**answer, "reason": result.reason}))
        else:
            ticket = f" HD-{result.ticket:06d}" if result.ticket else ""
            reason = f" ({result.reason})" if result.reason else ""
            self.stdout.write(f"{result.outcome}{ticket}{reason}")
