"""Demo data for `make run`: one user per role, categories, applications, known
issues and a few dozen realistic tickets in every tier and priority, and monitors on the
built-in simulator with a response-time spike scheduled a few minutes after
each run, so an alert fires and an incident opens while you watch; an http mailbox
"support" with a few demo mails taken through ``mail_ingest`` (a new request, a
customer's reply to an agent's answer, one with a CC, an ignored auto-reply).

Idempotent: users and configuration are brought to a known state; tickets are
only created once, and each demo mail has a fixed Message-ID, so a second run
finds it taken (``duplicate``). The mailbox's token is issued anew on each run
(only its hash is stored, so the printed one is the only copy). Every ticket change goes through the services, so the audit
trail is real.
"""

from __future__ import annotations

import random
from email.message import EmailMessage
from email.utils import format_datetime

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from catalog.models import Application
from helpdesk.models import User
from helpdesk.roles import Role
from helpdesk.services import user_role_apply
from mail import parsing
from mail.models import Direction as MailDirection
from mail.models import Mailbox, MailboxKind, MailThread, ThreadMessage
from mail.services import mailboxes
from mail.services.ingest import Ingested, mail_ingest
from monitoring import simulated_metrics
from monitoring.models import BaselineKind, Direction, MetricSource, Monitor, SourceKind
from tickets import services
from tickets.models import Category, Kind, KnownIssue, Status

USERS = [
    # username, role, first name, last name
    ("admin", Role.ADMIN, "Ada", "Admin"),
    ("manager", Role.MANAGER, "Maria", "Manager"),
    ("l1", Role.L1, "Liam", "First-Line"),
    ("l1b", Role.L1, "Lena", "First-Line"),
    ("l2", Role.L2, "Noah", "Engineer"),
    ("l3", Role.L3, "Sofia", "Architect"),
    ("customer", Role.CUSTOMER, "Carl", "Customer"),
    ("customer2", Role.CUSTOMER, "Chloe", "Client"),
]

CATEGORIES = [
    ("Password reset", 1, "Account locked or password forgotten."),
    ("Account access", 1, "Permissions, roles, SSO problems."),
    ("Billing question", 1, "Invoices, payments, refunds."),
    ("How-to question", 1, "Using the product."),
    ("Bug report", 2, "Something behaves wrongly."),
    ("Performance problem", 2, "Slow pages, timeouts."),
    ("Minor code fix", 2, "A small change in code or configuration."),
    ("Data correction", 3, "Fixing stored data by hand."),
    ("Architecture change", 3, "Changes to the system's design."),
]

APPLICATIONS = [
    ("Webshop", "webshop-production", "production", "high", 2),
    ("Billing API", "billing-api-production", "production", "high", 2),
    ("Customer Portal", "customer-portal-production", "production", "medium", 2),
    ("Reporting", "reporting-production", "production", "low", 3),
]

# title, category, application, urgency, impact
TICKETS = [
    ("Cannot log in after password change", "Password reset", "Customer Portal", "medium", "low"),
    ("Forgot password, reset e-mail never arrives", "Password reset", "Customer Portal", "high", "low"),
    ("Locked out after three attempts", "Password reset", None, "medium", "low"),
    ("New colleague needs access to invoices", "Account access", "Billing API", "low", "low"),
    ("SSO login loops back to the start page", "Account access", "Customer Portal", "high", "medium"),
    ("Invoice 2026-1184 charged twice", "Billing question", "Billing API", "high", "medium"),
    ("VAT missing on the November invoice", "Billing question", "Billing API", "medium", "medium"),
    ("How do I export my order history?", "How-to question", "Webshop", "low", "low"),
    ("Where can I change the delivery address?", "How-to question", "Webshop", "low", "low"),
    ("Checkout fails with 'payment declined' for all cards", "Bug report", "Webshop", "high", "high"),
    ("Discount code applied twice in basket", "Bug report", "Webshop", "medium", "medium"),
    ("PDF invoice shows wrong currency", "Bug report", "Billing API", "medium", "low"),
    ("Search returns no results for product names with accents", "Bug report", "Webshop", "medium", "medium"),
    ("Product pages take 12 seconds to load", "Performance problem", "Webshop", "high", "high"),
    ("Monthly report times out", "Performance problem", "Reporting", "medium", "low"),
    ("Portal dashboard slow every morning at 9", "Performance problem", "Customer Portal", "medium", "medium"),
    ("Typo in the order confirmation e-mail", "Minor code fix", "Webshop", "low", "low"),
    ("Add the new tax rate for Portugal", "Minor code fix", "Billing API", "medium", "high"),
    ("Customer merged two accounts, orders missing", "Data correction", "Webshop", "high", "medium"),
    ("Duplicate customer records after import", "Data correction", "Billing API", "medium", "medium"),
    ("Reporting database needs partitioning", "Architecture change", "Reporting", "low", "medium"),
    ("Move invoice generation to a queue", "Architecture change", "Billing API", "low", "high"),
    ("Webshop down for customers in Spain", "Bug report", "Webshop", "high", "high"),
    ("Cannot upload a profile picture", "Bug report", "Customer Portal", "low", "low"),
    ("Two-factor codes rejected", "Account access", "Customer Portal", "high", "high"),
    ("Refund not received after 14 days", "Billing question", "Billing API", "medium", "low"),
    ("Order status stuck on 'processing'", "Bug report", "Webshop", "medium", "high"),
    ("Report shows last month's numbers", "Bug report", "Reporting", "medium", "low"),
    ("API returns 502 during nightly batch", "Performance problem", "Billing API", "high", "medium"),
    ("Request: dark mode for the portal", "How-to question", "Customer Portal", "low", "low"),
    ("Shipping costs wrong for islands", "Minor code fix", "Webshop", "medium", "medium"),
    ("Session expires after 2 minutes", "Bug report", "Customer Portal", "high", "medium"),
    ("Cannot download the annual statement", "Billing question", "Billing API", "low", "medium"),
    ("Search index out of date", "Performance problem", "Webshop", "low", "medium"),
    ("E-mail notifications arrive twice", "Bug report", "Customer Portal", "low", "low"),
    ("Need a CSV of all open invoices", "How-to question", "Billing API", "low", "low"),
]

# title, category, application, symptoms, resolution steps
KNOWN_ISSUES = [
    (
        "Password reset e-mail does not arrive",
        "Password reset",
        "Customer Portal",
        "The customer asked for a reset link but nothing arrives, not even in the spam folder.",
        "1. Check the address on the account.\n2. Ask the customer to allow mail from helpdesk@demo.example.\n"
        "3. Send a new link from the admin; it is valid for 30 minutes.",
    ),
    (
        "Account locked after three failed logins",
        "Password reset",
        None,
        "Login says the account is locked.",
        "The lock lifts by itself after 15 minutes. To unlock now, reset the password; the lock is cleared with it.",
    ),
    (
        "SSO login loops back to the start page",
        "Account access",
        "Customer Portal",
        "After signing in with the company account the browser returns to the start page again and again.",
        "1. Clear the cookies for the portal.\n2. Sign in again in a private window.\n"
        "3. If it still loops, the company's SSO certificate expired: escalate to L2.",
    ),
    (
        "Invoice shows the wrong currency",
        "Billing question",
        "Billing API",
        "The PDF invoice shows USD for a customer who pays in EUR.",
        "Set the billing currency on the customer account, then regenerate the invoice from the billing page.",
    ),
    (
        "Order history export is empty",
        "How-to question",
        "Webshop",
        "The CSV export of the order history downloads but has no rows.",
        "The export covers the date range chosen above the list (default: this month). Choose a wider range.",
    ),
]

DEMO_PASSWORD_SUFFIX = "-demo-2026"

MAILBOX_NAME = "support"
MAILBOX_ADDRESS = "support@helpdesk.localhost"

# name, simulator metric, unit, direction, warning, critical
MONITORS = [
    ("Response time", "avg_response_ms", "ms", Direction.ABOVE, 550.0, 800.0),
    ("Error rate", "error_rate", "%", Direction.ABOVE, 3.0, 8.0),
    ("User satisfaction (Apdex)", "satisfaction", "", Direction.BELOW, 0.8, 0.6),
    ("CPU", "cpu_pct", "%", Direction.ABOVE, 85.0, 95.0),
]


class Command(BaseCommand):
    help = "Load demo users, configuration and tickets (idempotent)."

    def handle(self, *args, **options) -> None:
        if settings.PRODUCTION:
            raise CommandError("Refusing to load demo data with HELPDESK_ENV=production.")
        with transaction.atomic():
            users = self._users()
            categories = self._categories()
            applications = self._applications()
            self._known_issues(categories, applications)
            created = self._tickets(users, categories, applications)
            spike_at = self._monitoring(applications)
            mailbox, token, taken = self._mail(users, categories)
        self.stdout.write(self.style.SUCCESS("Demo users (username / password):"))
        for username, role, *_ in USERS:
            self.stdout.write(f"  {role:<9} {username:<10} {username}{DEMO_PASSWORD_SUFFIX}")
        self.stdout.write(f"Demo tickets created now: {created}")
        self.stdout.write(
            f"Simulated response-time spike on the Webshop at {spike_at} (UTC): watch its alert and incident."
        )
        self._mail_help(mailbox, token, taken)

    def _users(self) -> dict[str, User]:
        users = {}
        for username, role, first, last in USERS:
            user, _ = User.objects.get_or_create(username=username, defaults={"email": f"{username}@demo.example"})
            user.first_name, user.last_name, user.is_active = first, last, True
            user_role_apply(user=user, role=role)
            user.set_password(f"{username}{DEMO_PASSWORD_SUFFIX}")
            user.save()
            users[username] = user
        return users

    def _categories(self) -> dict[str, Category]:
        result = {}
        for name, scope, description in CATEGORIES:
            result[name], _ = Category.objects.update_or_create(
                name=name, defaults={"scope_tier": scope, "description": description}
            )
        return result

    def _applications(self) -> dict[str, Application]:
        result = {}
        for name, slug, env, criticality, owner in APPLICATIONS:
            result[name], _ = Application.objects.update_or_create(
                slug=slug, defaults={"name": name, "environment": env, "criticality": criticality, "owner_tier": owner}
            )
        return result

    def _known_issues(self, categories: dict[str, Category], applications: dict[str, Application]) -> None:
        for title, category, application, symptoms, steps in KNOWN_ISSUES:
            KnownIssue.objects.update_or_create(
                title=title,
                defaults={
                    "category": categories[category],
                    "application": applications[application] if application else None,
                    "symptoms": symptoms,
                    "resolution_steps": steps,
                    "is_active": True,
                },
            )

    def _monitoring(self, applications: dict[str, Application]) -> str:
        """A simulator source per application (its own seed), monitors on each;
        the Webshop's response-time spike is rescheduled on every run."""
        scenarios = simulated_metrics.demo_scenarios(timezone.now())
        for seed, app in enumerate(applications.values(), start=2026):
            source, _ = MetricSource.objects.update_or_create(
                name=f"Simulator: {app.name}",
                defaults={
                    "kind": SourceKind.SIMULATOR,
                    "options": {"seed": seed, "scenarios": scenarios if app.name == "Webshop" else []},
                    "poll_interval_seconds": 15,
                    "timeout_seconds": 5,
                    "enabled": True,
                },
            )
            for name, query, unit, direction, warning, critical in MONITORS:
                Monitor.objects.update_or_create(
                    application=app,
                    name=name,
                    defaults={
                        "source": source,
                        "query": query,
                        "unit": unit,
                        "direction": direction,
                        "baseline_kind": BaselineKind.STATIC,
                        "warning": warning,
                        "critical": critical,
                        "breach_polls": 2,
                        "recover_polls": 2,
                        "enabled": True,
                    },
                )
        return scenarios[0]["start"]

    def _mail(self, users: dict[str, User], categories: dict[str, Category]) -> tuple[Mailbox, str, list[str]]:
        """The http mailbox "support" and the demo conversation, each mail taken once
        through the one ingest path (a second run answers ``duplicate``)."""
        mailbox = Mailbox.objects.filter(name=MAILBOX_NAME).first()
        if mailbox is None:
            mailbox, token = mailboxes.mailbox_create(
                name=MAILBOX_NAME,
                address=MAILBOX_ADDRESS,
                kind=MailboxKind.HTTP,
                category=categories["How-to question"],
            )
        else:
            token = mailboxes.mailbox_token_issue(mailbox)
        carl, chloe = users["customer"], users["customer2"]
        taken = []
        request = self._ingest(
            mailbox,
            "request",
            f"{carl.get_full_name()} <{carl.email}>",
            "Where is my invoice for November?",
            "Hello,\n\nI cannot find the invoice for my November order in the portal.\n"
            "Could you send it to me?\n\nThanks,\nCarl\n",
        )
        taken.append(f"a new request: {request.outcome}")
        if request.outcome == "created":
            # An agent answers by e-mail (the outbox writes the customer's copy with the reply address) ...
            services.ticket_claim(ticket=request.ticket, actor=users["l1"])
            services.comment_create(
                ticket=request.ticket,
                actor=users["l1"],
                body="Hi Carl, the November invoice is under *Billing > Invoices*; I attached a copy to your account.",
                internal=False,
            )
        thread = MailThread.objects.filter(ticket_id=request.ticket).first() if request.ticket else None
        if thread is not None:
            # ... and the customer replies to it, to the ticket's reply address.
            answer = ThreadMessage.objects.filter(ticket_id=request.ticket, direction=MailDirection.OUT).last()
            reply = self._ingest(
                mailbox,
                "reply",
                f"{carl.get_full_name()} <{carl.email}>",
                f"Re: {parsing.subject_for(thread.ticket.number, thread.ticket.title)}",
                "Found it, thank you!\n\n> Hi Carl, the November invoice is under Billing > Invoices.\n",
                to=parsing.reply_address(mailbox.address, thread.token),
                in_reply_to=f"<{answer.message_id}>" if answer else None,
            )
            taken.append(f"the customer's reply: {reply.outcome}")
        cc = self._ingest(
            mailbox,
            "cc",
            f"{chloe.get_full_name()} <{chloe.email}>",
            "Access for my colleague Dana",
            "Hi,\n\nDana (in copy) joined our team and needs access to our invoices.\n\nChloe\n",
            cc="Dana Colleague <dana@customer.example>",
        )
        taken.append(f"a request with a CC: {cc.outcome}")
        auto = self._ingest(
            mailbox,
            "auto-reply",
            f"{chloe.get_full_name()} <{chloe.email}>",
            "Automatic reply: out of office",
            "I am out of the office until Monday.\n",
            headers={"Auto-Submitted": "auto-replied"},
        )
        taken.append(f"an auto-reply: {auto.outcome} ({auto.reason})")
        return mailbox, token, taken

    @staticmethod
    def _ingest(
        mailbox: Mailbox,
        key: str,
        sender: str,
        subject: str,
        body: str,
        *,
        to: str | None = None,
        cc: str | None = None,
        in_reply_to: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> Ingested:
        message = EmailMessage()
        message["From"] = sender
        message["To"] = to or mailbox.address
        if cc:
            message["Cc"] = cc
        message["Subject"] = subject
        message["Date"] = format_datetime(timezone.now())
        message["Message-ID"] = f"<demo-{key}@customer.example>"  # fixed: taken once, however often seeded
        if in_reply_to:
            message["In-Reply-To"] = message["References"] = in_reply_to
        for name, value in (headers or {}).items():
            message[name] = value
        message.set_content(body)
        return mail_ingest(mailbox=mailbox, raw=message.as_bytes())

    def _mail_help(self, mailbox: Mailbox, token: str, taken: list[str]) -> None:
        self.stdout.write(f"Demo mailbox {mailbox.name} <{mailbox.address}> took: {'; '.join(taken)}.")
        self.stdout.write("Send it a message (docs/EMAIL.md):")
        self.stdout.write(f"  python manage.py mail_ingest --mailbox {mailbox.name} < docs/examples/hello.eml")
        self.stdout.write(
            f"  or post it with the mailbox's token (new on every seed_demo run; shown only here): {token}"
        )
        self.stdout.write(
            f'  curl -X POST http://127.0.0.1:8000/api/v1/mail/inbound/ -H "Authorization: Bearer {token}" '
            '-H "Content-Type: message/rfc822" --data-binary @docs/examples/hello.eml'
        )

    def _tickets(self, users: dict[str, User], categories: dict, applications: dict) -> int:
        customers = [users["customer"], users["customer2"]]
        if users["customer"].requested_tickets.exists():
            return 0
        rng = random.Random(2026)
        l1, l1b, l2, l3, manager = (users[u] for u in ("l1", "l1b", "l2", "l3", "manager"))
        incident = services.ticket_create(
            actor=l2,
            title="Webshop checkout errors (incident)",
            description="Error rate on checkout above 5 % since 08:40.",
            requester=manager,
            application=applications["Webshop"],
            category=categories["Bug report"],
            kind=Kind.INCIDENT,
            major=True,  # logged by an agent, not an alert: flagged major so tickets may link to it
            urgency="high",
            impact="high",
            tier=2,
        )
        services.ticket_claim(ticket=incident, actor=l2)
        for n, (title, category, app, urgency, impact) in enumerate(TICKETS):
            requester = customers[n % 2]
            agent = l1 if n % 3 else l1b
            ticket = services.ticket_create(
                actor=agent if n % 4 else requester,
                title=title,
                description=f"{title}.\n\nReported by {requester.get_full_name()} on the phone.",
                requester=requester,
                application=applications.get(app),
                category=categories[category],
                urgency=urgency,
                impact=impact,
            )
            fate = rng.random()
            scope = categories[category].scope_tier
            if "Webshop down" in title or "Checkout fails" in title:
                services.ticket_update(ticket=ticket, actor=l1, changes={"parent": incident})
            if fate < 0.15:
                continue  # left new in the L1 queue
            services.ticket_claim(ticket=ticket, actor=agent)
            services.comment_create(
                ticket=ticket, actor=agent, body="Thanks for calling, we are looking into it.", internal=False
            )
            if scope == 1 and fate < 0.7:
                services.ticket_transition(
                    ticket=ticket,
                    actor=agent,
                    status=Status.RESOLVED,
                    resolution="Walked the customer through the fix.",
                )
                if fate < 0.4:
                    services.ticket_transition(ticket=ticket, actor=requester, status=Status.CLOSED)
                continue
            if scope == 1:
                services.ticket_transition(ticket=ticket, actor=agent, status=Status.PENDING)
                continue
            services.ticket_escalate(
                ticket=ticket,
                actor=agent,
                to_tier=2,
                reason="Needs an engineer: beyond the known resolutions.",
                summary=f"Customer reports: {title.lower()}.",
                steps_tried="Checked application health, reproduced once, no known issue matches.",
            )
            services.comment_create(
                ticket=ticket, actor=agent, body="Customer is a key account; keep them posted.", internal=True
            )
            if fate < 0.45:
                continue  # waiting in the L2 queue
            services.ticket_claim(ticket=ticket, actor=l2)
            if scope == 3:
                services.ticket_escalate(
                    ticket=ticket,
                    actor=l2,
                    to_tier=3,
                    reason="Root cause is in the design.",
                    summary="Reproduced; the fix needs a schema change.",
                    steps_tried="Profiled the query, checked recent deploys.",
                )
                if fate > 0.8:
                    services.ticket_claim(ticket=ticket, actor=l3)
            elif fate > 0.75:
                services.ticket_transition(
                    ticket=ticket, actor=l2, status=Status.RESOLVED, resolution="Fixed in release 4.12.1."
                )
        return len(TICKETS) + 1
