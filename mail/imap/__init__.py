"""Reading one IMAP mailbox: connect under the outbound policy, log in, select a
folder, list UIDs, fetch raw messages without marking them read, mark them read.

Plain values in, plain values out: :class:`ImapSettings` holds what a manager
configured, :class:`ImapMailbox` is one session, :func:`imap_check` answers
"does this configuration work" for the mailbox page. Every failure is an
:class:`ImapError` whose ``reason`` is short and safe to show a manager: our own
words and at most a status word of the server (``AUTHENTICATIONFAILED``), never
the server's text, never the password.

Connections go through :func:`helpdesk.outbound.connect` (the address is judged
after resolution and the socket opened to exactly that address); a refusal is an
ImapError naming the rule ("refused by the outbound policy: loopback address").
``security``: ``ssl`` speaks TLS from the first byte (imaps, 993), ``starttls``
upgrades a plain connection before logging in (143) and fails if the server does
not offer it, ``none`` stays plaintext. Certificates are verified against the
system's trust store for the configured host name; ``HELPDESK_MAIL_CA_FILE``
adds a CA (a company's own), tests pass ``ssl_context``.

Exactly once rests on three properties of this client, used by the polling
service (mail.services.polling, where the rules are): ``fetch`` reads with
``BODY.PEEK[]`` and never sets ``\\Seen``; ``uids_after`` lists UIDs above a mark
under the folder's UIDVALIDITY; ``mark_seen`` flags only what it is given.

The session never deletes or expunges: it ends with LOGOUT, not CLOSE (which
would expunge what someone else flagged ``\\Deleted``). ``timeout`` bounds each
network operation, not a whole poll: the Celery task's time limit does that.

Modules: ``wire`` (settings, errors, TLS, folder names, UID sets, the
policy-bound imaplib clients), ``session`` (ImapMailbox, imap_check).
"""

from mail.imap.session import ImapMailbox, imap_check
from mail.imap.wire import Fetched, ImapError, ImapSettings

__all__ = ["Fetched", "ImapError", "ImapMailbox", "ImapSettings", "imap_check"]
