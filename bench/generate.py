"""Bulk data for benchmarks and tests, loaded with PostgreSQL COPY.

``generate(Spec(tickets=1_000_000, open=50_000, due=10_000))`` loads users
(customers and agents of every tier plus managers), categories, applications
and tickets, optionally comments and events, into the default database. Rows
are produced by Python generators and streamed to ``COPY ... FROM STDIN``
(psycopg2 ``copy_expert``), so nothing of the size of the data set is held as
text; progress goes to stderr. It works inside a test's transaction too, so a
test can load a few hundred tickets with realistic distributions.

What the tickets look like (``now`` is the generation instant):

* done (resolved or closed): created over the last ``history_days``; first
  response and resolution times drawn around the SLA targets (about 10 % and
  15 % breached, with the breach marks set as the sweep would have); resolved
  tickets older than ``HELPDESK_AUTOCLOSE_DAYS`` are closed. Their due times
  use a simple approximation of business hours: target x (168 h / working
  hours per week).
* open (new, open, pending), not due: spread over tiers 1-3 and priorities
  1-5; due times computed exactly like the product does (``due_times`` with
  the stored policies and calendar); young enough that no trigger of the
  default rules fires at ``now``: first response not overdue, less than half
  the resolution time used, P1 not unassigned for 15 minutes. New tickets are
  unassigned and queued; open and pending ones are assigned and answered.
* due: open tickets in tier 1, priorities 3-5 (P1/P2 leave tier 1 at half
  their resolution time by a default rule), answered in time, whose resolution
  due time passed within the last day and whose breach is not recorded yet: what
  an escalation tick finds after a burst (say, a worker outage).
  ``resolution_due_at`` and ``first_response_due_at`` are both past.
* rule firings (``history_firings``): done tickets carry the firing each enabled
  rule with an SLA trigger would have left on them (first response or resolution
  overdue, X % of the resolution time elapsed), so the engine's "not fired in
  this episode yet" check meets a realistic ``escalation_rulefiring`` table.
* comments and events (``comments_per_ticket``, ``events_per_ticket``): a plausible
  trail per ticket (created, assigned, status changes, commented, ...).

The same ``Spec`` and ``now`` give the same data (one seeded RNG).
"""

from __future__ import annotations

import bisect
import heapq
import itertools
import json
import random
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

from django.conf import settings
from django.db import connections

from catalog.models import Application
from escalation.models import EscalationRule, RuleFiring, Trigger
from helpdesk.models import User
from helpdesk.roles import Role
from tickets.models import Category, Comment, Level, Ticket, TicketEvent
from tickets.services import sla
from tickets.services.priority import priority_matrix

GENERATOR_VERSION = 1

# Agents per role, as shares of Spec.agents (50 -> 25 l1, 15 l2, 7 l3, 3 managers).
AGENT_SHARES = ((Role.L1, 0.50), (Role.L2, 0.30), (Role.L3, 0.14), (Role.MANAGER, 0.06))
TIER_ROLE = {1: Role.L1, 2: Role.L2, 3: Role.L3}

IMPACT_WEIGHTS = {Level.HIGH: 0.15, Level.MEDIUM: 0.45, Level.LOW: 0.40}
URGENCY_WEIGHTS = {Level.HIGH: 0.20, Level.MEDIUM: 0.50, Level.LOW: 0.30}
DONE_TIER_WEIGHTS = (0.65, 0.25, 0.10)
OPEN_TIER_WEIGHTS = (0.60, 0.30, 0.10)
OPEN_STATUS_WEIGHTS = (("new", 0.25), ("open", 0.55), ("pending", 0.20))
INCIDENT_SHARE = 0.25

CATEGORIES = [
    ("Password reset", 1),
    ("Account access", 1),
    ("Billing question", 1),
    ("How-to question", 1),
    ("Bug report", 2),
    ("Performance problem", 2),
    ("Minor code fix", 2),
    ("Integration issue", 2),
    ("Data correction", 3),
    ("Architecture change", 3),
]
APPLICATIONS = [
    ("Webshop", "webshop-production", "production", "high", 2),
    ("Billing API", "billing-api-production", "production", "high", 2),
    ("Customer Portal", "customer-portal-production", "production", "medium", 2),
    ("Reporting", "reporting-production", "production", "low", 3),
    ("Mobile App", "mobile-app-production", "production", "medium", 2),
    ("Warehouse", "warehouse-production", "production", "medium", 2),
    ("Webshop (staging)", "webshop-staging", "staging", "low", 3),
    ("Identity", "identity-production", "production", "high", 1),
]
SUBJECTS = {
    "Password reset": [
        "Cannot log in after password change",
        "Reset e-mail never arrives",
        "Locked out after three attempts",
    ],
    "Account access": [
        "Colleague needs access to invoices",
        "SSO login loops back to the start page",
        "Two-factor codes rejected",
    ],
    "Billing question": ["Invoice charged twice", "VAT missing on the invoice", "Refund not received after 14 days"],
    "How-to question": [
        "How do I export my order history?",
        "Where can I change the delivery address?",
        "How to add a user",
    ],
    "Bug report": [
        "Checkout fails with 'payment declined'",
        "Discount code applied twice",
        "PDF invoice shows wrong currency",
    ],
    "Performance problem": [
        "Product pages take 12 seconds to load",
        "Monthly report times out",
        "Dashboard slow every morning",
    ],
    "Minor code fix": [
        "Typo in the order confirmation e-mail",
        "Add the new tax rate",
        "Wrong label on the settings page",
    ],
    "Integration issue": [
        "Webhook deliveries fail with 401",
        "Orders not synced to the ERP",
        "API returns 502 intermittently",
    ],
    "Data correction": [
        "Orders missing after account merge",
        "Duplicate customer records after import",
        "Wrong stock levels",
    ],
    "Architecture change": [
        "Reporting database needs partitioning",
        "Move invoice generation to a queue",
        "Split the search service",
    ],
    None: [
        "Question about my account",
        "Something is not working",
        "Please call me back",
        "Error message on the website",
    ],
}
SENTENCES = [
    "Since this morning the page shows an error when I try to continue.",
    "I already cleared the browser cache and tried another browser.",
    "It worked fine last week.",
    "Several colleagues in our office see the same problem.",
    "The error message says: *something went wrong, please try again later*.",
    "Order number and screenshots are attached.",
    "This blocks our month-end closing, please treat it as urgent.",
    "We are on the business plan with 40 seats.",
    "Steps:\n1. log in\n2. open the order list\n3. click *export*",
    "Could you please check what is going on?",
    "The problem started after the last update.",
    "It happens only for some customers, not for all.",
]
RESOLUTIONS = [
    "Reset the password and confirmed the customer can log in.",
    "Known issue applied: cleared the stale session, customer confirmed.",
    "Fixed in release 4.12; customer confirmed.",
    "Corrected the data by hand and added a check to the import.",
    "Explained the setting; no change needed.",
    "Duplicate of an incident that is resolved.",
]
COMMENT_BODIES = [
    "Thanks, I will try that and come back to you.",
    "Could you send a screenshot of the error?",
    "We can reproduce it and are looking into it.",
    "It still happens, see the attached log.",
    "Checked the logs: the request fails with a timeout at the payment provider.",
    "Workaround sent to the customer.",
    "Handing over to L2 with the reproduction steps.",
]
FIRST_NAMES = ["Anna", "Ben", "Carla", "David", "Eva", "Felix", "Greta", "Hugo", "Ines", "Jonas", "Karin", "Lukas"]
LAST_NAMES = ["Meyer", "Schmidt", "Novak", "Rossi", "Dubois", "Jansen", "Silva", "Kowalski", "Berg", "Olsen"]

# Days of history for done tickets; margin (seconds) kept between ``now`` and
# any due time of a ticket that must not be due.
HISTORY_DAYS = 730
NOT_DUE_MARGIN = 120
# Due tickets became due within this many seconds before ``now`` (a day: with
# business hours, a shorter window outside office hours would put every due time
# on the same instant, the end of the last working day).
DUE_WINDOW = 24 * 3600


@dataclass(frozen=True)
class Spec:
    """What to load. ``open`` defaults to 5 % of ``tickets``; ``due`` tickets are
    part of ``open``."""

    tickets: int
    open: int | None = None
    due: int = 0
    customers: int = 10_000
    agents: int = 50
    comments_per_ticket: int = 0
    events_per_ticket: int = 0
    history_days: int = HISTORY_DAYS
    # Done tickets carry the firings the enabled rules would have left on them
    # (SLA triggers only), so the engine's "not fired in this episode" check
    # runs against a realistic escalation_rulefiring table.
    history_firings: bool = True
    seed: int = 20260101
    prefix: str = "bench"

    @property
    def open_count(self) -> int:
        return round(self.tickets * 0.05) if self.open is None else self.open

    def params(self) -> dict[str, Any]:
        """The parameters that determine the data (for reuse checks)."""
        return {**asdict(self), "open": self.open_count, "generator_version": GENERATOR_VERSION}

    def validate(self) -> None:
        if not 0 <= self.due <= self.open_count <= self.tickets:
            raise ValueError("need 0 <= due <= open <= tickets")
        if self.customers < 1 or self.agents < 4:
            raise ValueError("need at least 1 customer and 4 agents (one per role)")


@dataclass
class Generated:
    now: datetime
    tickets: int = 0
    open: int = 0
    due: int = 0
    comments: int = 0
    events: int = 0
    firings: int = 0
    users_created: int = 0
    first_ticket_id: int = 0
    last_ticket_id: int = 0
    due_ids: list[int] = field(default_factory=list)
    seconds: float = 0.0


# --- COPY plumbing -----------------------------------------------------------------------------


class CopyStream:
    """A read()-able view of an iterator of text chunks, for ``copy_expert``."""

    def __init__(self, chunks: Iterable[str]):
        self._chunks = iter(chunks)
        self._buf = b""
        self._pos = 0
        self.error: BaseException | None = None  # psycopg2 hides what read() raised

    def read(self, size: int = -1) -> bytes:
        if self._pos >= len(self._buf):
            try:
                chunk = next(self._chunks, None)
            except BaseException as exc:
                self.error = exc
                raise
            if chunk is None:
                return b""
            self._buf, self._pos = chunk.encode(), 0
        end = len(self._buf) if size is None or size < 0 else self._pos + size
        data = self._buf[self._pos : end]
        self._pos += len(data)
        return data

    def readline(self, size: int = -1) -> bytes:  # pragma: no cover - psycopg2 only calls read()
        return self.read(size)


def copy_rows(
    table: str, columns: list[str], lines: Iterable[str], *, using: str = "default", lines_per_chunk: int = 2000
) -> None:
    """COPY ``lines`` (tab-separated, COPY text format, no trailing newline) into ``table``."""

    def chunks() -> Iterator[str]:
        for batch in _batched(lines, lines_per_chunk):
            yield "\n".join(batch) + "\n"

    sql = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
    stream = CopyStream(chunks())
    with connections[using].cursor() as cursor:
        try:
            cursor.copy_expert(sql, stream, size=1 << 18)
        except Exception:
            if stream.error is not None:
                raise stream.error from None
            raise


def _batched(iterable: Iterable[str], n: int) -> Iterator[tuple[str, ...]]:
    it = iter(iterable)
    while batch := tuple(itertools.islice(it, n)):
        yield batch


def escape(text: str) -> str:
    """A value in COPY text format."""
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def copy_value(value: Any) -> str:
    if value is None:
        return r"\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict | list):
        return escape(json.dumps(value))
    return escape(str(value))


def reserve_ids(model, count: int, *, using: str = "default") -> int:
    """Take ``count`` consecutive ids from the table's sequence; returns the first."""
    if count <= 0:
        return 0
    table = model._meta.db_table
    with connections[using].cursor() as cursor:
        cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [table])
        (sequence,) = cursor.fetchone()
        cursor.execute("SELECT nextval(%s)", [sequence])
        (first,) = cursor.fetchone()
        cursor.execute("SELECT setval(%s, %s)", [sequence, first + count - 1])
    return first


def _extra_columns(model, produced: list[str]) -> tuple[list[str], str]:
    """Columns the generator does not know (added later): their defaults, as a row suffix."""
    extra_cols, extra_vals = [], []
    for f in model._meta.concrete_fields:
        if f.attname in produced:
            continue
        if not (f.null or f.has_default()):
            raise RuntimeError(f"bench.generate does not fill {model.__name__}.{f.attname} (no default)")
        extra_cols.append(f.column)
        extra_vals.append(copy_value(f.get_default() if f.has_default() else None))
    return extra_cols, "".join("\t" + v for v in extra_vals)


class Progress:
    """Rows per table on stderr, at most every ``every`` seconds."""

    def __init__(self, enabled: bool, every: float = 2.0):
        self.enabled, self.every = enabled, every
        self.started = time.perf_counter()

    def wrap(self, label: str, total: int, items: Iterable[str]) -> Iterator[str]:
        if not self.enabled:
            yield from items
            return
        start = last = time.perf_counter()
        done = 0
        for item in items:
            done += 1
            yield item
            if not done & 0x3FF:
                now = time.perf_counter()
                if now - last >= self.every:
                    last = now
                    self.say(f"{label}: {done:,}/{total:,} ({done / (now - start):,.0f}/s)")
        self.say(f"{label}: {done:,} rows in {time.perf_counter() - start:.1f} s")

    def say(self, message: str) -> None:
        if self.enabled:
            print(f"[generate {time.perf_counter() - self.started:6.1f}s] {message}", file=sys.stderr, flush=True)


# --- the generator -----------------------------------------------------------------------------


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat()


def _agent_counts(total: int) -> dict[str, int]:
    counts = {role: max(1, int(total * share)) for role, share in AGENT_SHARES}
    # Largest shares absorb the rounding.
    counts[Role.L1] += total - sum(counts.values())
    return counts


def _cum(weights: Iterable[float]) -> list[float]:
    return list(itertools.accumulate(weights))


class _Generator:
    def __init__(self, spec: Spec, now: datetime, using: str, progress: Progress):
        self.spec, self.now, self.using, self.progress = spec, now, using, progress
        self.rng = random.Random(spec.seed)
        self.now_ts = now.timestamp()
        self.ctx = sla.SlaContext.load()
        self.matrix = priority_matrix()
        self.autoclose = settings.HELPDESK_AUTOCLOSE_DAYS * 86400
        calendar = self.ctx.calendar
        day = datetime.combine(now.date(), calendar.day_end) - datetime.combine(now.date(), calendar.day_start)
        working_hours = len(calendar.working_days) * day.total_seconds() / 3600
        # Wall-clock seconds per business second, on average over a week.
        self.business_factor = 168 / working_hours
        self.policy = {
            p: (pol.first_response_minutes * 60, pol.resolution_minutes * 60, bool(pol.business_hours))
            for p, pol in self.ctx.policies.items()
        }
        combos = [(i, u) for i in IMPACT_WEIGHTS for u in URGENCY_WEIGHTS]
        self.combos = [(i, u, self.matrix[(i, u)]) for i, u in combos]
        self.combo_cum = _cum(IMPACT_WEIGHTS[i] * URGENCY_WEIGHTS[u] for i, u in combos)
        low = [c for c in self.combos if c[2] >= 3]
        self.low_combos = low
        self.low_cum = _cum(IMPACT_WEIGHTS[i] * URGENCY_WEIGHTS[u] for i, u, _ in low)
        self.descriptions = [escape(" ".join(self.rng.sample(SENTENCES, k=self.rng.randint(2, 4)))) for _ in range(400)]
        self.titles = {cat: [escape(s) for s in subjects] for cat, subjects in SUBJECTS.items()}
        self.resolutions = [escape(r) for r in RESOLUTIONS]

    # -- users and configuration --

    def users(self) -> tuple[list[int], dict[str, list[int]], int]:
        spec, prefix = self.spec, self.spec.prefix
        wanted: list[tuple[str, str]] = [
            (f"{prefix}-customer-{i:06d}", Role.CUSTOMER.value) for i in range(spec.customers)
        ]
        for role, count in _agent_counts(spec.agents).items():
            wanted += [(f"{prefix}-{role.value}-{i:03d}", role.value) for i in range(count)]
        existing = dict(
            User.objects.using(self.using).filter(username__startswith=f"{prefix}-").values_list("username", "id")
        )
        missing = [(name, role) for name, role in wanted if name not in existing]
        if missing:
            produced = [
                "id",
                "password",
                "last_login",
                "is_superuser",
                "username",
                "first_name",
                "last_name",
                "email",
                "is_staff",
                "is_active",
                "date_joined",
                "role",
            ]
            extra_cols, suffix = _extra_columns(User, produced)
            first = reserve_ids(User, len(missing), using=self.using)
            rng, joined_from = self.rng, self.now_ts - self.spec.history_days * 86400

            def lines() -> Iterator[str]:
                for n, (name, role) in enumerate(missing):
                    staff = "t" if role == Role.MANAGER else "f"
                    yield (
                        f"{first + n}\t!bench-unusable\t\\N\tf\t{name}\t{rng.choice(FIRST_NAMES)}\t"
                        f"{rng.choice(LAST_NAMES)}\t{name}@example.com\t{staff}\tt\t"
                        f"{_iso(joined_from + rng.random() * (self.now_ts - joined_from))}\t{role}{suffix}"
                    )
                    existing[name] = first + n

            copy_rows(
                User._meta.db_table,
                produced + extra_cols,
                self.progress.wrap("users", len(missing), lines()),
                using=self.using,
            )
        customers = [existing[name] for name, role in wanted if role == Role.CUSTOMER]
        agents: dict[str, list[int]] = {}
        for name, role in wanted:
            if role != Role.CUSTOMER:
                agents.setdefault(role, []).append(existing[name])
        return customers, agents, len(missing)

    def configuration(self) -> tuple[list[tuple[int, str]], list[tuple[int, str]]]:
        categories = []
        for name, scope in CATEGORIES:
            row, _ = Category.objects.using(self.using).get_or_create(name=name, defaults={"scope_tier": scope})
            categories.append((row.pk, name))
        applications = []
        for name, slug, env, criticality, owner in APPLICATIONS:
            row, _ = Application.objects.using(self.using).get_or_create(
                slug=slug, defaults={"name": name, "environment": env, "criticality": criticality, "owner_tier": owner}
            )
            applications.append((row.pk, row.criticality))
        return categories, applications

    # -- tickets --

    def _combo(self, low: bool = False) -> tuple[str, str, int]:
        if low:
            return self.low_combos[bisect.bisect(self.low_cum, self.rng.random() * self.low_cum[-1])]
        return self.combos[bisect.bisect(self.combo_cum, self.rng.random() * self.combo_cum[-1])]

    def _due(self, priority: int, created: datetime) -> tuple[datetime, datetime]:
        ticket = SimpleNamespace(priority=priority, created_at=created, sla_paused_seconds=0)
        return sla.due_times(ticket, self.ctx)

    def _due_before(self, priority: int, target: datetime) -> tuple[datetime, datetime, datetime]:
        """The latest creation time (to about a minute) whose resolution due time is
        at or before ``target``, and its due times: a bisection, due times being
        monotonic in the creation time."""
        fr_s, res_s, business = self.policy[priority]
        young, old = 0.0, self._wall(res_s, business) + 3 * 86400
        while self._due(priority, target - timedelta(seconds=old))[1] > target:
            young, old = old, old * 2
        for _ in range(40):
            if old - young < 60:
                break
            middle = (young + old) / 2
            if self._due(priority, target - timedelta(seconds=middle))[1] > target:
                young = middle
            else:
                old = middle
        created = (target - timedelta(seconds=old)).replace(microsecond=0)
        fr_due, res_due = self._due(priority, created)
        return created, fr_due, res_due

    def _wall(self, seconds: float, business: bool) -> float:
        return seconds * (self.business_factor if business else 1.0)

    def open_records(self) -> list[dict[str, Any]]:
        """The active tickets (new/open/pending), due ones included, with exact due times."""
        spec, rng, now = self.spec, self.rng, self.now
        limit = now + timedelta(seconds=NOT_DUE_MARGIN)
        records = []
        status_cum = _cum(w for _, w in OPEN_STATUS_WEIGHTS)
        tier_cum = _cum(OPEN_TIER_WEIGHTS)
        for n in range(spec.open_count):
            due = n < spec.due
            impact, urgency, priority = self._combo(low=due)
            fr_s, res_s, business = self.policy[priority]
            if due:
                status, tier = "open", 1
                created, fr_due, res_due = self._due_before(
                    priority, now - timedelta(seconds=60 + rng.random() * DUE_WINDOW)
                )
            else:
                status = OPEN_STATUS_WEIGHTS[bisect.bisect(status_cum, rng.random() * status_cum[-1])][0]
                tier = 1 + bisect.bisect(tier_cum, rng.random() * tier_cum[-1])
                base = fr_s if status == "new" else res_s
                age = self._wall(base, business) * 0.45 * rng.random()
                for _ in range(40):
                    created = now - timedelta(seconds=age)
                    fr_due, res_due = self._due(priority, created)
                    # Less than half the resolution time used (the P1/P2 default rule), and
                    # for unanswered tickets the first response not overdue (which also keeps
                    # new P1 tickets under the 15 unassigned minutes).
                    half = created + (res_due - created) / 2
                    if half > limit and (status != "new" or fr_due > limit):
                        break
                    age /= 2
                else:
                    created = now - timedelta(seconds=60)
                    fr_due, res_due = self._due(priority, created)
            records.append(
                {
                    "created": created,
                    "status": status,
                    "tier": tier,
                    "impact": impact,
                    "urgency": urgency,
                    "priority": priority,
                    "fr_due": fr_due,
                    "res_due": res_due,
                    "due": due,
                }
            )
        return records

    def ticket_lines(
        self,
        plan: list[tuple[float, dict | None]],
        first_id: int,
        customers: list[int],
        agents: dict[str, list[int]],
        categories: list[tuple[int, str]],
        applications: list[tuple[int, str]],
        keep: Callable[[tuple], None] | None,
    ) -> Iterator[str]:
        rng, now_ts, now = self.rng, self.now_ts, self.now
        random_ = rng.random
        weights = [1.0 / (rank + 1) ** 0.7 for rank in range(len(customers))]
        customer_cum = _cum(weights)
        ctotal = customer_cum[-1]
        tier_cum = _cum(DONE_TIER_WEIGHTS)
        tier_agents = {tier: agents[TIER_ROLE[tier]] for tier in (1, 2, 3)}
        business = self.business_factor
        descriptions, titles, resolutions = self.descriptions, self.titles, self.resolutions
        combos, combo_cum = self.combos, self.combo_cum
        ccount = combo_cum[-1]
        policy = self.policy
        autoclose = self.autoclose
        history_rules = self.rules  # read before the COPY: no other statement can run during it
        for n, (created_ts, rec) in enumerate(plan):
            pk = first_id + n
            requester = customers[bisect.bisect(customer_cum, random_() * ctotal)]
            if random_() < INCIDENT_SHARE:
                kind = "incident"
                app = applications[int(random_() * len(applications))][0] if random_() < 0.95 else None
            else:
                kind = "service_request"
                app = applications[int(random_() * len(applications))][0] if random_() < 0.4 else None
            if random_() < 0.85:
                category_id, category = categories[int(random_() * len(categories))]
            else:
                category_id, category = None, None
            pool = titles.get(category) or titles[None]
            title = pool[int(random_() * len(pool))]
            description = descriptions[int(random_() * len(descriptions))]
            if rec is None:
                # A done ticket: approximate due times, times around the targets.
                impact, urgency, priority = combos[bisect.bisect(combo_cum, random_() * ccount)]
                fr_s, res_s, bh = policy[priority]
                scale = business if bh else 1.0
                tier = 1 + bisect.bisect(tier_cum, random_() * tier_cum[-1])
                fr_due = created_ts + fr_s * scale
                res_due = created_ts + res_s * scale
                resolved = created_ts + res_s * scale * rng.lognormvariate(-0.9, 0.9)
                if resolved > now_ts - 60:
                    resolved = now_ts - 60 - random_() * 3600
                if resolved <= created_ts:
                    resolved = created_ts + 60
                responded = created_ts + fr_s * scale * rng.lognormvariate(-1.0, 0.8)
                if responded > resolved:
                    responded = created_ts + (resolved - created_ts) * random_()
                closed = resolved + autoclose
                status = "closed" if closed <= now_ts else "resolved"
                response_breach = fr_due + random_() * 60 if responded > fr_due else None
                resolution_breach = res_due + random_() * 60 if resolved > res_due else None
                assignee = tier_agents[tier][int(random_() * len(tier_agents[tier]))]
                end = closed if status == "closed" else resolved
                yield (
                    f"{pk}\t{title}\t{description}\t{kind}\t{status}\t{tier}\t{urgency}\t{impact}\t{priority}\t"
                    f"{requester}\t{assignee}\t{app if app else chr(92) + 'N'}\t"
                    f"{category_id if category_id else chr(92) + 'N'}\t\\N\t0\t"
                    f"{resolutions[int(random_() * len(resolutions))]}\t"
                    f"{_iso(created_ts)}\t{_iso(end)}\t{_iso(fr_due)}\t{_iso(res_due)}\t{_iso(responded)}\t"
                    f"{_iso(resolved)}\t{_iso(closed) if status == 'closed' else chr(92) + 'N'}\t"
                    f"{'t' if response_breach or resolution_breach else 'f'}\t"
                    f"{_iso(response_breach) if response_breach else chr(92) + 'N'}\t"
                    f"{_iso(resolution_breach) if resolution_breach else chr(92) + 'N'}\t"
                    f"{_iso(resolved)}\t0\t\\N\t{tier}\t{3 + tier + int(random_() * 5)}"
                    f"{self.suffix}"
                )
                if keep:
                    keep((pk, created_ts, end, requester, assignee, status, tier, priority))
                if history_rules:
                    for rule_id, trigger, threshold, conditions in history_rules:
                        if trigger == Trigger.FIRST_RESPONSE_OVERDUE:
                            at = fr_due + threshold
                            if responded <= at:
                                continue
                        elif trigger == Trigger.RESOLUTION_OVERDUE:
                            at = res_due + threshold
                            if resolved <= at:
                                continue
                        else:  # resolution_elapsed_pct
                            at = created_ts + (res_due - created_ts) * threshold
                            if resolved <= at:
                                continue
                        if all(
                            not allowed or value in allowed
                            for value, allowed in zip((tier, priority, kind, app, category_id), conditions, strict=True)
                        ):
                            self.firings.append((rule_id, pk, tier, at + random_() * 60))
                continue
            # An active ticket: everything was decided in open_records().
            created, status, tier = rec["created"], rec["status"], rec["tier"]
            fr_due, res_due = rec["fr_due"], rec["res_due"]
            age = now - created
            if status == "new":
                assignee, responded, queued, paused = None, None, created, None
                updated = created
            else:
                assignee = tier_agents[tier][int(random_() * len(tier_agents[tier]))]
                answer_by = min(fr_due, now)
                responded = created + (answer_by - created) * (0.2 + 0.7 * random_())
                queued = None
                updated = responded + (now - responded) * random_()
                paused = updated if status == "pending" else None
            episode = 1 + (tier - 1 if kind == "service_request" else 0)
            yield (
                f"{pk}\t{title}\t{description}\t{kind}\t{status}\t{tier}\t{rec['urgency']}\t{rec['impact']}\t"
                f"{rec['priority']}\t{requester}\t{assignee if assignee else chr(92) + 'N'}\t"
                f"{app if app else chr(92) + 'N'}\t{category_id if category_id else chr(92) + 'N'}\t\\N\t0\t\t"
                f"{created.isoformat()}\t{updated.isoformat()}\t{fr_due.isoformat()}\t{res_due.isoformat()}\t"
                f"{responded.isoformat() if responded else chr(92) + 'N'}\t\\N\t\\N\tf\t\\N\t\\N\t"
                f"{paused.isoformat() if paused else chr(92) + 'N'}\t0\t"
                f"{queued.isoformat() if queued else chr(92) + 'N'}\t{episode}\t{1 + episode + (age.days % 4)}"
                f"{self.suffix}"
            )
            if rec["due"]:
                self.due_ids.append(pk)
            if keep:
                keep((pk, created_ts, now_ts, requester, assignee, status, tier, rec["priority"]))

    def history_rules(self) -> list[tuple[int, str, float, tuple[frozenset, ...]]]:
        """Enabled rules with an SLA trigger: (id, trigger, threshold in seconds or as a
        fraction, (tiers, priorities, kinds, applications, categories))."""
        if not self.spec.history_firings:
            return []
        rules = []
        for rule in EscalationRule.objects.using(self.using).filter(enabled=True).order_by("order", "pk"):
            if rule.trigger in (Trigger.FIRST_RESPONSE_OVERDUE, Trigger.RESOLUTION_OVERDUE):
                threshold = rule.threshold * 60
            elif rule.trigger == Trigger.RESOLUTION_ELAPSED_PCT:
                threshold = rule.threshold / 100
            else:
                continue
            conditions = tuple(
                frozenset(getattr(rule, name) or ())
                for name in ("tiers", "priorities", "kinds", "applications", "categories")
            )
            rules.append((rule.pk, rule.trigger, threshold, conditions))
        return rules

    def history_firings(self) -> int:
        """COPY the firings collected while generating done tickets (episode = final tier)."""

        def lines() -> Iterator[str]:
            for rule_id, ticket, episode, at in self.firings:
                yield f"{rule_id}\t{ticket}\t{episode}\t{_iso(at)}"

        produced = ["rule_id", "ticket_id", "episode", "fired_at"]
        extra_cols, suffix = _extra_columns(RuleFiring, ["id", *produced])
        if suffix:
            raise RuntimeError("bench.generate: RuleFiring has columns it does not fill")
        copy_rows(
            RuleFiring._meta.db_table,
            produced,
            self.progress.wrap("rule firings", len(self.firings), lines()),
            using=self.using,
        )
        return len(self.firings)

    TICKET_COLUMNS = [
        "id",
        "title",
        "description",
        "kind",
        "status",
        "tier",
        "urgency",
        "impact",
        "priority",
        "requester_id",
        "assignee_id",
        "application_id",
        "category_id",
        "parent_id",
        "linked_count",
        "resolution",
        "created_at",
        "updated_at",
        "first_response_due_at",
        "resolution_due_at",
        "first_responded_at",
        "resolved_at",
        "closed_at",
        "sla_breached",
        "response_breached_at",
        "resolution_breached_at",
        "sla_paused_at",
        "sla_paused_seconds",
        "queued_at",
        "episode",
        "version",
    ]

    def tickets(self, customers, agents, categories, applications, keep) -> tuple[int, int]:
        spec, rng = self.spec, self.rng
        records = self.open_records()
        self.progress.say(f"planned {len(records):,} open tickets ({spec.due:,} due)")
        done = spec.tickets - len(records)
        start = self.now_ts - spec.history_days * 86400
        span = self.now_ts - 2 * 3600 - start
        done_plan = sorted(start + rng.random() * span for _ in range(done))
        open_plan = sorted(((r["created"].timestamp(), r) for r in records), key=lambda item: item[0])
        # Ids follow creation time, like a real table.
        plan = list(heapq.merge(((ts, None) for ts in done_plan), open_plan, key=lambda item: item[0]))
        extra_cols, self.suffix = _extra_columns(Ticket, self.TICKET_COLUMNS)
        first = reserve_ids(Ticket, len(plan), using=self.using)
        self.due_ids: list[int] = []
        self.firings: list[tuple[int, int, int, float]] = []
        self.rules = self.history_rules()
        lines = self.ticket_lines(plan, first, customers, agents, categories, applications, keep)
        copy_rows(
            Ticket._meta.db_table,
            self.TICKET_COLUMNS + extra_cols,
            self.progress.wrap("tickets", len(plan), lines),
            using=self.using,
        )
        return first, len(plan)

    # -- comments and events --

    def comments(self, kept: list[tuple], agents: dict[str, list[int]]) -> tuple[int, dict[int, list[tuple]]]:
        per = self.spec.comments_per_ticket
        rng = self.rng
        first = reserve_ids(Comment, len(kept) * per, using=self.using)
        bodies = [escape(b) for b in COMMENT_BODIES]
        made: dict[int, list[tuple]] = {}
        tier_agents = {tier: agents[TIER_ROLE[tier]] for tier in (1, 2, 3)}
        keep_events = self.spec.events_per_ticket > 0

        def lines() -> Iterator[str]:
            pk = first
            for ticket, created, end, requester, assignee, status, tier, _ in kept:
                step = (end - created) / (per + 1)
                mine = []
                for i in range(per):
                    at = created + step * (i + rng.random())
                    agent_turn = i % 2 == 1 and status != "new"
                    author = (assignee or tier_agents[tier][0]) if agent_turn else requester
                    internal = agent_turn and rng.random() < 0.3
                    via_mail = pk % 2 == 1  # half the customers' comments came by e-mail (no draw: same data as before)
                    yield (
                        f"{pk}\t{ticket}\t{author}\t{bodies[int(rng.random() * len(bodies))]}\t"
                        f"{'t' if internal else 'f'}\t{_iso(at)}\t{'email' if not agent_turn and via_mail else 'web'}"
                    )
                    mine.append((pk, author, internal, at))
                    pk += 1
                if keep_events:
                    made[ticket] = mine

        produced = ["id", "ticket_id", "author_id", "body", "internal", "created_at", "via"]
        extra_cols, suffix = _extra_columns(Comment, produced)
        if suffix:
            raise RuntimeError("bench.generate: Comment has columns it does not fill")
        copy_rows(
            Comment._meta.db_table, produced, self.progress.wrap("comments", len(kept) * per, lines()), using=self.using
        )
        return len(kept) * per, made

    def events(self, kept: list[tuple], comments: dict[int, list[tuple]]) -> int:
        per = self.spec.events_per_ticket
        rng = self.rng

        def data(d: dict) -> str:
            return escape(json.dumps(d))

        def lines() -> Iterator[str]:
            for ticket, created, end, requester, assignee, status, tier, priority in kept:
                mine = comments.get(ticket, [])
                rows = [
                    (
                        requester,
                        created,
                        "created",
                        {"after": {"status": "new", "tier": tier, "priority": priority, "requester": requester}},
                    )
                ]
                span = end - created
                if status != "new" and assignee:
                    rows.append(
                        (
                            assignee,
                            created + span * 0.05,
                            "assigned",
                            {"before": {"assignee": None}, "after": {"assignee": assignee}},
                        )
                    )
                    rows.append(
                        (
                            assignee,
                            created + span * 0.06,
                            "status_changed",
                            {"before": {"status": "new"}, "after": {"status": "open"}},
                        )
                    )
                for pk, author, internal, at in mine:
                    rows.append((author, at, "commented", {"comment": pk, "internal": internal}))
                if status in ("resolved", "closed", "pending"):
                    target = "pending" if status == "pending" else "resolved"
                    rows.append(
                        (
                            assignee,
                            created + span * (0.95 if status == "pending" else 0.99),
                            "status_changed",
                            {"before": {"status": "open"}, "after": {"status": target}},
                        )
                    )
                if status == "closed":
                    rows.append(
                        (
                            None,
                            end,
                            "status_changed",
                            {
                                "before": {"status": "resolved"},
                                "after": {"status": "closed"},
                                "reason": "closed automatically",
                            },
                        )
                    )
                while len(rows) < per:
                    rows.append(
                        (
                            assignee or requester,
                            created + span * rng.random(),
                            "updated",
                            {"before": {"description": "..."}, "after": {"description": "..."}},
                        )
                    )
                rows = sorted(rows[:per], key=lambda r: r[1])
                for actor, at, kind, d in rows:
                    yield f"{ticket}\t{actor if actor else chr(92) + 'N'}\t{_iso(at)}\t{kind}\t{data(d)}"

        produced = ["ticket_id", "actor_id", "at", "kind", "data"]
        extra_cols, suffix = _extra_columns(TicketEvent, ["id", *produced])
        if suffix:
            raise RuntimeError("bench.generate: TicketEvent has columns it does not fill")
        copy_rows(
            TicketEvent._meta.db_table,
            produced,
            self.progress.wrap("events", len(kept) * per, lines()),
            using=self.using,
        )
        return len(kept) * per


def generate(spec: Spec, *, now: datetime | None = None, using: str = "default", progress: bool = True) -> Generated:
    """Load ``spec`` into the database ``using`` (PostgreSQL). Users with the
    spec's prefix that exist already are reused; tickets are always added.
    Call it inside ``transaction.atomic()`` to make the load all-or-nothing."""
    spec.validate()
    if connections[using].vendor != "postgresql":
        raise RuntimeError("bench.generate needs PostgreSQL (it loads with COPY)")
    now = (now or datetime.now(UTC)).astimezone(UTC)
    started = time.perf_counter()
    report = Progress(progress)
    gen = _Generator(spec, now, using, report)
    result = Generated(now=now)
    customers, agents, result.users_created = gen.users()
    categories, applications = gen.configuration()
    kept: list[tuple] | None = [] if (spec.comments_per_ticket or spec.events_per_ticket) else None
    first, count = gen.tickets(customers, agents, categories, applications, kept.append if kept is not None else None)
    result.tickets, result.open, result.due = count, spec.open_count, spec.due
    result.first_ticket_id, result.last_ticket_id = first, first + count - 1
    result.due_ids = gen.due_ids
    if gen.firings:
        result.firings = gen.history_firings()
    comments: dict[int, list[tuple]] = {}
    if kept and spec.comments_per_ticket:
        result.comments, comments = gen.comments(kept, agents)
    if kept and spec.events_per_ticket:
        result.events = gen.events(kept, comments)
    result.seconds = time.perf_counter() - started
    report.say(
        f"done: {count:,} tickets, {result.firings:,} rule firings, {result.comments:,} comments, {result.events:,} events "
        f"in {result.seconds:.1f} s"
    )
    return result


__all__ = ["CopyStream", "Generated", "Spec", "copy_rows", "escape", "generate", "reserve_ids"]
