"""Who may do what: every API operation and page, per role and object scope, with
the status each role gets. docs/PRODUCT.md "Roles", "Tiers and escalation" and docs/API.md "Errors" in one table.

A row is one request (method, path template, object scope, body); ``expect``
gives the status per role. ``test_permission_matrix`` runs every cell and
guards that every URL pattern and every OpenAPI operation has a row.

Roles: ``anon`` (not logged in), ``customer`` (requester of t1, t2 and t3),
``other`` (a customer who owns none of them), ``l1``, ``l2``, ``l3``,
``manager``, ``admin``.

Scopes (objects the placeholders are filled with, see the test's ``World``):
``t1``/``t2``/``t3`` the customer's ticket in tier 1/2/3; ``t1.public`` and
``t1.internal`` a public comment (by the customer) and an internal note on t1;
``att.public``/``att.internal`` an attachment on each; ``category``,
``known_issue``, ``application``, ``source``, ``monitor``, ``alert``,
``silence``, ``rule``, ``webhook`` one row of each; ``webhook.used`` a webhook
endpoint a rule notifies; ``token`` an API token of the manager's (not the one
the requests use); ``mailbox`` an http mailbox and ``quarantined`` a message
in its quarantine; ``mail.original`` a message that came by mail as a reply on
t1 (its raw bytes kept); ``-`` nothing.

Rules the table encodes:
- API: anonymous 401; a role that may not use an endpoint 403; a customer
  asking for a ticket, comment or attachment that is not theirs 404 (never
  reveal it exists); agents read every ticket, work (claim, change, escalate,
  transition, apply, resolve) only tiers up to their own (403 above it);
  any agent may comment on any ticket (L1 answers every customer).
- Pages: anonymous users go to the login page (302); a page a role may not
  use is a 404, like the API; refused actions on a visible ticket show the
  page again with the service's status (403/409); done actions redirect (303).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

ROLES = ("anon", "customer", "other", "l1", "l2", "l3", "manager", "admin")
GROUPS = {
    "everyone": ROLES,
    "users": ROLES[1:],
    "customers": ("customer", "other"),
    "agents": ("l1", "l2", "l3", "manager", "admin"),
    "engineers": ("l1", "l2", "l3"),
    "managers": ("manager", "admin"),
}
TIER = {"l1": 1, "l2": 2, "l3": 3, "manager": 3, "admin": 3}


def expect(**statuses: int) -> dict[str, int]:
    """Statuses per role; group names (``agents``, ``customers``...) first, then
    later keys override earlier ones. Every role must end up with a status."""
    result: dict[str, int] = {}
    for name, code in statuses.items():
        for role in GROUPS.get(name, (name,)):
            if role not in ROLES:
                raise ValueError(f"unknown role {role}")
            result[role] = code
    missing = set(ROLES) - set(result)
    if missing:
        raise ValueError(f"no status for {sorted(missing)}")
    return result


def work(tier: int, ok: int, refused: int = 403, *, customer: int = 403, other: int = 404, anon: int = 401):
    """Working a ticket of ``tier``: agents of that tier or above get ``ok``, lower tiers ``refused``;
    the requester (a customer) may see it but not work it; another customer does not see it."""
    result = {"anon": anon, "customer": customer, "other": other}
    for role, own in TIER.items():
        result[role] = ok if tier <= own else refused
    return result


def page_work(tier: int, ok: int = 303, refused: int = 403, *, customer: int = 403):
    return work(tier, ok, refused, customer=customer, other=404, anon=302)


@dataclass(frozen=True)
class Row:
    method: str
    path: str  # OpenAPI-style template: {id}, {comment_id}, {ticket_id}...
    scope: str
    expect: dict[str, int]
    body: Any = None  # dict, or a callable(world) -> dict
    fmt: str = "json"  # "json", "multipart" (API) or "form" (pages)
    note: str = ""
    page: bool = field(default=False)


def api(method: str, path: str, scope: str, expected: dict[str, int], body: Any = None, **kw: Any) -> Row:
    return Row(method, "/api/v1/" + path, scope, expected, body, **kw)


def page(method: str, path: str, scope: str, expected: dict[str, int], body: Any = None, **kw: Any) -> Row:
    return Row(method, path, scope, expected, body, fmt="form", page=True, **kw)


# Common expectations.
AGENT_READ = expect(anon=401, customers=403, agents=200)
MANAGER_ONLY = expect(anon=401, customers=403, engineers=403, managers=200)
USERS_READ = expect(anon=401, users=200)
TICKET_READ = expect(anon=401, customer=200, other=404, agents=200)


def config_crud(name: str, scope: str, create_body: Any, update_body: Any, *, delete: int = 204) -> list[Row]:
    """A configuration ViewSet: agents read, managers write."""
    return [
        api("GET", f"{name}/", "-", AGENT_READ),
        api("POST", f"{name}/", "-", expect(anon=401, customers=403, engineers=403, managers=201), create_body),
        api("GET", f"{name}/{{id}}/", scope, AGENT_READ),
        api("PUT", f"{name}/{{id}}/", scope, expect(anon=401, customers=403, engineers=403, managers=200), update_body),
        api(
            "PATCH", f"{name}/{{id}}/", scope, expect(anon=401, customers=403, engineers=403, managers=200), update_body
        ),
        api("DELETE", f"{name}/{{id}}/", scope, expect(anon=401, customers=403, engineers=403, managers=delete)),
    ]


def _ticket_rows() -> list[Row]:
    rows = [
        api("GET", "tickets/", "-", USERS_READ),
        api(
            "POST",
            "tickets/",
            "-",
            expect(anon=401, customer=201, other=400, agents=201),
            lambda w: {"title": "Printer on fire", "requester": w.customer.pk},
            note="customers open tickets for themselves only: naming someone else is a 400",
        ),
        api(
            "POST",
            "tickets/next/",
            "-",
            expect(anon=401, customers=403, agents=200),
            {},
            note="each agent's own tier has an unassigned ticket",
        ),
    ]
    for tier in (1, 2, 3):
        t = f"t{tier}"
        rows += [
            api("GET", "tickets/{id}/", t, TICKET_READ),
            api("PATCH", "tickets/{id}/", t, work(tier, 200), {"title": "Renamed"}),
            api("POST", "tickets/{id}/claim/", t, work(tier, 200)),
            api("POST", "tickets/{id}/assign/", t, work(tier, 200), {"assignee": None}),
            api(
                "POST",
                "tickets/{id}/escalate/",
                t,
                work(tier, 200 if tier < 3 else 400),
                {"to_tier": min(tier + 1, 3), "reason": "needs a developer", "summary": "s", "steps_tried": "t"},
                note="t3 cannot go higher: 400 for those who may work it",
            ),
            api(
                "POST",
                "tickets/{id}/deescalate/",
                t,
                work(tier, 200 if tier > 1 else 400),
                {"to_tier": 1, "reason": "L1 can finish this"},
            ),
            api(
                "POST",
                "tickets/{id}/transition/",
                t,
                work(tier, 200),
                {"status": "open"},
                note="customers only reopen or close their resolved tickets",
            ),
            api("GET", "tickets/{id}/comments/", t, TICKET_READ),
            api(
                "POST",
                "tickets/{id}/comments/",
                t,
                expect(anon=401, customer=201, other=404, agents=201),
                {"body": "Any news?"},
                note="any agent comments on any ticket",
            ),
            api(
                "POST",
                "tickets/{id}/comments/",
                t,
                expect(anon=401, customer=400, other=404, agents=201),
                {"body": "note", "internal": True},
                note="internal note: customers 400",
            ),
            api("GET", "tickets/{id}/events/", t, TICKET_READ),
            api(
                "POST",
                "tickets/{id}/apply-known-issue/",
                t,
                work(tier, 200),
                lambda w: {"known_issue": w.known_issue.pk},
            ),
            api("POST", "tickets/{id}/resolve-linked/", t, work(tier, 200), {"message": "Fixed upstream."}),
        ]
    rows += [
        api(
            "POST",
            "tickets/{id}/comments/{comment_id}/attachments/",
            "t1.public",
            expect(anon=401, customer=201, other=404, agents=201),
            "file",
            fmt="multipart",
            note="the customer's own public comment",
        ),
        api(
            "POST",
            "tickets/{id}/comments/{comment_id}/attachments/",
            "t1.internal",
            expect(anon=401, customer=404, other=404, agents=201),
            "file",
            fmt="multipart",
            note="an internal note does not exist for customers",
        ),
        api(
            "POST",
            "tickets/{id}/comments/{comment_id}/attachments/",
            "t3.public",
            expect(anon=401, customer=201, other=404, agents=201),
            "file",
            fmt="multipart",
        ),
        api("GET", "attachments/{id}/", "att.public", TICKET_READ),
        api("GET", "attachments/{id}/", "att.internal", expect(anon=401, customers=404, agents=200)),
        api("GET", "attachments/{id}/", "att.t3.public", TICKET_READ),
    ]
    return rows


def _config_rows() -> list[Row]:
    rows = [
        api("GET", "", "-", USERS_READ, note="DRF's API root"),
        api(
            "POST",
            "auth/token/",
            "-",
            expect(everyone=200),
            lambda w: {"username": w.l1.username, "password": "pass-Word-123"},
            note="open: it is the login",
        ),
        api("GET", "auth/tokens/", "-", USERS_READ, note="each user's own tokens"),
        api(
            "DELETE",
            "auth/tokens/{id}/",
            "token",
            expect(anon=401, users=404, manager=204),
            note="only its owner revokes a token; anyone else's is a 404",
        ),
        api("POST", "auth/logout/", "-", expect(anon=401, users=204), note="revokes the token it is called with"),
        api("GET", "users/", "-", MANAGER_ONLY),
        api(
            "POST",
            "users/",
            "role=l1",
            expect(anon=401, customers=403, engineers=403, managers=201),
            {"username": "new-agent", "role": "l1", "password": "a-Long-pass-123"},
        ),
        api(
            "POST",
            "users/",
            "role=manager",
            expect(anon=401, customers=403, engineers=403, manager=403, admin=201),
            {"username": "new-lead", "role": "manager", "password": "a-Long-pass-123"},
            note="only admins create managers",
        ),
        api("GET", "users/me/", "-", USERS_READ),
        api("GET", "priority-matrix/", "-", AGENT_READ),
        api("PUT", "priority-matrix/", "-", MANAGER_ONLY, lambda w: w.payloads["priority-matrix"]),
        api("GET", "sla-policies/", "-", MANAGER_ONLY),
        api("PUT", "sla-policies/", "-", MANAGER_ONLY, lambda w: w.payloads["sla-policies"]),
        api("GET", "business-calendar/", "-", MANAGER_ONLY),
        api("PUT", "business-calendar/", "-", MANAGER_ONLY, lambda w: w.payloads["business-calendar"]),
        api("GET", "dashboard/", "-", AGENT_READ, note="agents see the queue figures (the page is managers')"),
        api(
            "POST",
            "monitoring/alertmanager/",
            "-",
            expect(everyone=401),
            {"version": "4", "alerts": []},
            note="push endpoints take a source's bearer token, never a user's",
        ),
        api("POST", "monitoring/samples/", "-", expect(everyone=401), []),
    ]
    rows += config_crud("categories", "category", {"name": "New category"}, {"name": "Renamed category"})
    rows += config_crud(
        "known-issues",
        "known_issue",
        {"title": "VPN drops", "resolution_steps": "Reconnect."},
        {"title": "VPN drops (2)", "resolution_steps": "Reconnect twice."},
    )
    rows += config_crud(
        "applications",
        "application",
        {"name": "Billing"},
        {"name": "Billing 2"},
        delete=409,  # t1 and the monitor use it: protected
    )
    rows.append(api("GET", "applications/{id}/health/", "application", AGENT_READ))
    rows += config_crud(
        "metric-sources",
        "source",
        {"name": "Sim 2", "kind": "simulator"},
        {"name": "Sim renamed", "kind": "simulator"},
        delete=409,  # its monitor uses it
    )
    rows.append(
        api(
            "POST",
            "metric-sources/{id}/rotate-token/",
            "source",
            expect(anon=401, customers=403, engineers=403, managers=409),
            note="a pull source has no token",
        )
    )
    rows += config_crud(
        "monitors",
        "monitor",
        lambda w: {
            "application": w.application.pk,
            "source": w.source.pk,
            "name": "Errors",
            "query": "error_rate",
            "warning": 0.05,
        },
        lambda w: {
            "application": w.application.pk,
            "source": w.source.pk,
            "name": "Latency",
            "query": "avg_response_ms",
        },
    )
    rows += [
        api("POST", "monitors/{id}/poll/", "monitor", expect(anon=401, customers=403, agents=202)),
        api("GET", "monitors/{id}/samples/", "monitor", AGENT_READ),
        api("GET", "alerts/", "-", AGENT_READ),
        api("GET", "alerts/{id}/", "alert", AGENT_READ),
        api("POST", "alerts/{id}/acknowledge/", "alert", AGENT_READ),
        api("GET", "alerts/{id}/snapshot/", "alert", AGENT_READ),
    ]
    rows += config_crud(
        "silences",
        "silence",
        lambda w: w.payloads["silence"],
        lambda w: w.payloads["silence"],
    )
    manager_write = expect(anon=401, customers=403, engineers=403, managers=201)
    rows += [
        api("GET", "escalation-rules/", "-", MANAGER_ONLY),
        api("POST", "escalation-rules/", "-", manager_write, {"name": "Late", "trigger": "resolution_overdue"}),
        api("GET", "escalation-rules/{id}/", "rule", MANAGER_ONLY),
        api(
            "PUT",
            "escalation-rules/{id}/",
            "rule",
            MANAGER_ONLY,
            {"name": "Later", "trigger": "idle_for", "threshold": 5},
        ),
        api("PATCH", "escalation-rules/{id}/", "rule", MANAGER_ONLY, {"enabled": False}),
        api("DELETE", "escalation-rules/{id}/", "rule", expect(anon=401, customers=403, engineers=403, managers=204)),
        api("GET", "escalation-rules/{id}/preview/", "rule", MANAGER_ONLY),
    ]
    rows += [
        api("GET", "webhooks/", "-", MANAGER_ONLY),
        api("POST", "webhooks/", "-", manager_write, {"name": "Chat", "url": "https://hooks.example.com/chat"}),
        api("GET", "webhooks/{id}/", "webhook", MANAGER_ONLY),
        api("PUT", "webhooks/{id}/", "webhook", MANAGER_ONLY, lambda w: {"name": "Pager", "url": w.webhook.url}),
        api("PATCH", "webhooks/{id}/", "webhook", MANAGER_ONLY, {"name": "Pager"}),
        api("DELETE", "webhooks/{id}/", "webhook", expect(anon=401, customers=403, engineers=403, managers=204)),
        api(
            "DELETE",
            "webhooks/{id}/",
            "webhook.used",
            expect(anon=401, customers=403, engineers=403, managers=409),
            note="a rule notifies it",
        ),
        api("POST", "webhooks/{id}/rotate-secret/", "webhook", MANAGER_ONLY, {"grace_hours": 1}),
    ]
    return rows


def _page_rows() -> list[Row]:
    login = 302
    agent_page = expect(anon=login, customers=404, agents=200)
    manager_page = expect(anon=login, customers=404, engineers=404, managers=200)
    rows = [
        page("GET", "/", "-", expect(everyone=302), note="each role to its work"),
        page("GET", "/login/", "-", expect(anon=200, users=302), note="a logged-in user goes home"),
        page("POST", "/logout/", "-", expect(everyone=302)),
        page("GET", "/dashboard/", "-", manager_page),
        page("GET", "/console/", "-", agent_page),
        page(
            "POST",
            "/console/",
            "-",
            expect(anon=login, customers=404, agents=400),
            {},
            note="an empty form shows the errors",
        ),
        page("GET", "/console/preview/?urgency=high&impact=low", "-", agent_page),
        page("GET", "/console/incidents/", "-", agent_page),
        page("GET", "/console/requesters/?q=user", "-", agent_page),
        page("GET", "/console/suggestions/?q=vpn", "-", agent_page),
        page("GET", "/queue/", "-", agent_page),
        page("POST", "/queue/next/", "-", expect(anon=login, customers=404, agents=303)),
        page("GET", "/portal/", "-", expect(anon=login, customers=200, agents=404)),
        page("GET", "/portal/new/", "-", expect(anon=login, customers=200, agents=404)),
        page("GET", "/known-issues/", "-", agent_page),
        page("GET", "/known-issues/new/", "-", manager_page),
        page("GET", "/known-issues/{known_issue_id}/edit/", "known_issue", manager_page),
        page("GET", "/monitoring/", "-", agent_page),
        page("GET", "/monitoring/applications/{application_id}/", "application", agent_page),
        page("GET", "/monitoring/alerts/", "-", agent_page),
        page(
            "POST", "/monitoring/alerts/{alert_id}/acknowledge/", "alert", expect(anon=login, customers=404, agents=302)
        ),
        page("GET", "/monitoring/silences/", "-", agent_page),
        page(
            "POST",
            "/monitoring/silences/",
            "-",
            expect(anon=login, customers=404, engineers=404, managers=400),
            {},
            note="writes are managers'; an empty form shows the errors",
        ),
        page(
            "POST",
            "/monitoring/silences/{silence_id}/expire/",
            "silence",
            expect(anon=login, customers=404, engineers=404, managers=302),
        ),
    ]
    for tier in (1, 2, 3):
        t = f"t{tier}"
        rows += [
            page("GET", "/tickets/{ticket_id}/", t, expect(anon=login, customer=200, other=404, agents=200)),
            page("POST", "/tickets/{ticket_id}/claim/", t, page_work(tier)),
            page(
                "POST",
                "/tickets/{ticket_id}/comment/",
                t,
                expect(anon=login, customer=303, other=404, agents=303),
                {"body": "Any news?"},
            ),
            page(
                "POST",
                "/tickets/{ticket_id}/escalate/",
                t,
                page_work(tier, 303 if tier < 3 else 400),
                {"to_tier": min(tier + 1, 3), "reason": "needs a developer"},
            ),
            page(
                "POST",
                "/tickets/{ticket_id}/deescalate/",
                t,
                page_work(tier, 303 if tier > 1 else 400),
                {"to_tier": 1, "reason": "L1 can finish this"},
            ),
            page("POST", "/tickets/{ticket_id}/transition/", t, page_work(tier), {"status": "open"}),
            page(
                "POST",
                "/tickets/{ticket_id}/link/",
                t,
                page_work(tier, customer=404),
                lambda w: {"incident": str(w.incident.pk)},
                note="customers do not see the incident: 404",
            ),
            page(
                "POST",
                "/tickets/{ticket_id}/major/",
                t,
                page_work(tier),
                {},
                note="unflagging a ticket that is not major changes nothing; customers never triage",
            ),
            page(
                "POST",
                "/tickets/{ticket_id}/apply-known-issue/",
                t,
                page_work(tier),
                lambda w: {"known_issue": w.known_issue.pk},
            ),
            page(
                "POST",
                "/tickets/{ticket_id}/resolve-linked/",
                t,
                page_work(tier),
                {"message": "Fixed: it works again."},
                note="an incident's action; on a ticket without links it resolves nothing",
            ),
        ]
    rows += [
        page("GET", "/healthz", "-", expect(everyone=200)),
        page("GET", "/readyz", "-", expect(everyone=200)),
        page(
            "GET",
            "/metrics",
            "-",
            expect(everyone=200),
            note="development; HELPDESK_METRICS_TOKEN or loopback only in production (test_ops)",
        ),
        page("GET", "/favicon.ico", "-", expect(everyone=301)),
        page("GET", "/api/schema/", "-", expect(everyone=200), note="the API description is public"),
        page("GET", "/api/docs/", "-", expect(everyone=200)),
    ]
    # mail: provider webhooks
    # Machine endpoints: the provider's signature or basic auth (HELPDESK_ANYMAIL_WEBHOOK_SECRET,
    # MAILGUN_WEBHOOK_SIGNING_KEY, set by the test's world) is the only credential; a user's
    # session is none (400: refused before anything is read). Off (404) while the secret is unset.
    provider_note = "a provider's inbound webhook: its signature or basic auth, never a user's session"
    rows += [
        page("POST", f"/mail/providers/{path}", "-", expect(everyone=400), {}, note=provider_note)
        for path in ("mailgun/inbound/", "mailgun/inbound_mime/", "postmark/inbound/", "sendgrid/inbound/")
    ]
    rows.append(
        page(
            "POST",
            "/mail/providers/amazon_ses/inbound/",
            "-",
            expect(everyone=401),
            {},
            note="Amazon SNS sends its basic auth after a 401 asking for it",
        )
    )
    return rows


# mail: manager pages and API
def _mail_rows() -> list[Row]:
    """Mailboxes and the quarantine are managers'; the inbound endpoint takes an http
    mailbox's bearer token, never a user's; /account/ is every user's own page."""
    login = 302
    manager_page = expect(anon=login, customers=404, engineers=404, managers=200)
    manager_post = expect(anon=login, customers=404, engineers=404, managers=303)
    manager_write = expect(anon=401, customers=403, engineers=403, managers=201)
    return [
        api("GET", "mailboxes/", "-", MANAGER_ONLY),
        api(
            "POST",
            "mailboxes/",
            "-",
            manager_write,
            {"name": "Sales", "address": "sales@helpdesk.example", "kind": "http"},
        ),
        api("GET", "mailboxes/{id}/", "mailbox", MANAGER_ONLY),
        api(
            "PUT",
            "mailboxes/{id}/",
            "mailbox",
            MANAGER_ONLY,
            {"name": "Support desk", "address": "matrix@helpdesk.example", "kind": "http"},
        ),
        api("PATCH", "mailboxes/{id}/", "mailbox", MANAGER_ONLY, {"enabled": False}),
        api("DELETE", "mailboxes/{id}/", "mailbox", expect(anon=401, customers=403, engineers=403, managers=204)),
        api("POST", "mailboxes/{id}/rotate-token/", "mailbox", MANAGER_ONLY),
        api(
            "POST",
            "mail/inbound/",
            "-",
            expect(everyone=401),
            {},
            note="takes an http mailbox's bearer token, never a user's",
        ),
        api("GET", "mail/quarantine/", "-", MANAGER_ONLY),
        api("GET", "mail/quarantine/{id}/", "quarantined", MANAGER_ONLY),
        api(
            "POST", "mail/quarantine/{id}/retry/", "quarantined", MANAGER_ONLY, note="quarantined again: still garbage"
        ),
        api(
            "POST",
            "mail/quarantine/{id}/discard/",
            "quarantined",
            expect(anon=401, customers=403, engineers=403, managers=204),
        ),
        page("GET", "/mail/mailboxes/", "-", manager_page),
        page("GET", "/mail/mailboxes/new/?kind=imap", "-", manager_page),
        page(
            "POST",
            "/mail/mailboxes/new/",
            "-",
            expect(anon=login, customers=404, engineers=404, managers=400),
            {},
            note="an empty form shows the errors",
        ),
        page("GET", "/mail/mailboxes/{mailbox_id}/", "mailbox", manager_page),
        page(
            "POST",
            "/mail/mailboxes/{mailbox_id}/",
            "mailbox",
            expect(anon=login, customers=404, engineers=404, managers=400),
            {},
        ),
        page("POST", "/mail/mailboxes/{mailbox_id}/enable/", "mailbox", manager_post, {"enabled": "0"}),
        page(
            "POST",
            "/mail/mailboxes/{mailbox_id}/rotate-token/",
            "mailbox",
            manager_page,
            note="the answer shows the new token once",
        ),
        page("POST", "/mail/mailboxes/{mailbox_id}/test/", "mailbox", manager_post, note="an http mailbox: a message"),
        page("GET", "/mail/quarantine/", "-", manager_page),
        page("POST", "/mail/quarantine/{quarantined_id}/retry/", "quarantined", manager_post),
        page("POST", "/mail/quarantine/{quarantined_id}/discard/", "quarantined", manager_post),
        page("GET", "/mail/quarantine/{quarantined_id}/raw/", "quarantined", manager_page),
        page("GET", "/account/", "-", expect(anon=login, users=200)),
        page("POST", "/account/", "-", expect(anon=login, users=303), {}, note="every user's own settings"),
    ]



# mail: ticket side -----------------------------------------------------------------------------
# The ticket's CCs (API PATCH and page), the requester's bounce, the original message
# of a ticket's e-mail (scope ``mail.original``: a reply on t1, its raw bytes kept).


def _mail_ticket_rows() -> list[Row]:
    rows = [
        page(
            "GET",
            "/mail/messages/{message_id}/original/",
            "mail.original",
            expect(anon=302, customers=404, agents=200),
            note="agents only: the raw message, an .eml download; the requester too gets a 404",
        ),
    ]
    for tier in (1, 2, 3):
        t = f"t{tier}"
        rows += [
            api(
                "PATCH",
                "tickets/{id}/",
                t,
                work(tier, 200),
                {"cc": ["boss@example.com"]},
                note="cc: agents who may work the ticket; the requester reads it",
            ),
            page(
                "POST",
                "/tickets/{ticket_id}/cc/add/",
                t,
                page_work(tier),
                lambda w, tier=tier: {"cc": "boss@example.com", "version": w.ticket_version(tier)},
            ),
            page(
                "POST",
                "/tickets/{ticket_id}/cc/remove/",
                t,
                page_work(tier),
                lambda w, tier=tier: {"cc": "nobody@example.com", "version": w.ticket_version(tier)},
                note="removing an address that is not there changes nothing",
            ),
            page(
                "POST",
                "/tickets/{ticket_id}/requester-bounce/clear/",
                t,
                expect(anon=302, customer=403, other=404, agents=303),
                note="any agent who sees the ticket; the flag is not shown to customers",
            ),
        ]
    return rows


ROWS: list[Row] = _ticket_rows() + _config_rows() + _page_rows() + _mail_rows() + _mail_ticket_rows()

# URL patterns with no rows of their own, and why.
EXEMPT_ROUTE_PREFIXES = {
    "admin/": "Django's admin: its own staff login and model permissions (tested in test_admin.py)",
}
EXEMPT_ROUTE_MARKERS = {
    "(?P<format>": "DRF format-suffix variant of a route in the table: same view, same checks",
    "<drf_format_suffix:format>": "DRF format-suffix variant of a route in the table: same view, same checks",
}
