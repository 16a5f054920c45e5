"""Settings, read from the environment (12-factor).

Development defaults need nothing installed: SQLite in ``var/`` and Kombu's
filesystem transport as an embedded broker. Production (``HELPDESK_ENV=production``)
refuses to start without ``SECRET_KEY`` and turns on the hardening below.
"""

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("HELPDESK_VAR_DIR", BASE_DIR / "var"))


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return default if value in (None, "") else int(value)


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


HELPDESK_ENV = os.environ.get("HELPDESK_ENV", "development")
PRODUCTION = HELPDESK_ENV == "production"

DEV_SECRET_KEY = "dev-only-insecure-key-do-not-use-in-production"
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if PRODUCTION:
    # Secrets come from the environment only; never a default baked into the code.
    if not SECRET_KEY:
        raise ImproperlyConfigured("SECRET_KEY must be set when HELPDESK_ENV=production")
    if SECRET_KEY == DEV_SECRET_KEY:
        raise ImproperlyConfigured(
            "SECRET_KEY is the development default; set a long random value when HELPDESK_ENV=production"
        )
elif not SECRET_KEY:
    SECRET_KEY = DEV_SECRET_KEY

DEBUG = env_bool("DEBUG", not PRODUCTION)
if PRODUCTION and DEBUG:
    raise ImproperlyConfigured("DEBUG must be off when HELPDESK_ENV=production (debug pages leak settings and code)")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "" if PRODUCTION else "localhost,127.0.0.1,[::1],testserver")
if PRODUCTION and not ALLOWED_HOSTS:
    raise ImproperlyConfigured("ALLOWED_HOSTS must be set when HELPDESK_ENV=production")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "csp",
    "axes",
    "anymail",
    "helpdesk",
    "catalog",
    "tickets",
    "notifications",
    "escalation",
    "monitoring",
    "mail",
    "dashboard",
]

MIDDLEWARE = [
    "helpdesk.ops.RequestMetricsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    # A NUL in the query string is a 400 for every page and endpoint (helpdesk.text).
    "helpdesk.text.QueryStringGuardMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "helpdesk.middleware.NoStoreForUsersMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "csp.middleware.CSPMiddleware",
    # Last, as django-axes asks: turns a refused login into its answer (helpdesk.login_guard).
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "helpdesk.urls"
WSGI_APPLICATION = "helpdesk.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "helpdesk.views.navigation",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{VAR_DIR / 'helpdesk.sqlite3'}"),
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60 if PRODUCTION else 0),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The web server, worker and beat share one file in `make run`: WAL and
    # IMMEDIATE transactions avoid "database is locked" between them.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "helpdesk.User"
# Axes first: a login refused by the guard stops here, before any password is hashed.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# Argon2 first: new and changed passwords use it; a PBKDF2 hash from before still
# verifies and is rehashed to Argon2 at the next login.
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/login/"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [p for p in [BASE_DIR / "static"] if p.exists()]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
# Uploaded files live outside the web root and are only served through views
# that check permissions.
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", VAR_DIR / "media"))

# --- Cache ------------------------------------------------------------------
# Throttle counters of the API and the dashboard's figures live here; several web
# processes must share them. CACHE_URL=redis://... for Redis, locmem:// for memory
# of each process (development's default). Production's default is the database
# (table helpdesk_cache, created by a migration), never per-process memory:
# `check --deploy` warns about a per-process cache (helpdesk.checks).
CACHE_URL = os.environ.get("CACHE_URL", "")
if CACHE_URL.startswith(("redis://", "rediss://")):
    _cache = {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": CACHE_URL}
elif CACHE_URL.startswith("locmem://") or (not CACHE_URL and not PRODUCTION):
    _cache = {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
elif CACHE_URL in ("", "db://"):
    # Culling at 300 entries (Django's default) would let a flood of addresses push
    # the throttle counters out.
    _cache = {
        "BACKEND": "django.core.cache.backends.db.DatabaseCache",
        "LOCATION": "helpdesk_cache",
        "OPTIONS": {"MAX_ENTRIES": 100_000},
    }
else:
    raise ImproperlyConfigured("CACHE_URL must be redis://..., rediss://..., db:// or locmem://")
CACHES = {"default": _cache}

# --- Logins (django-axes, helpdesk.login_guard) -------------------------------
# Proxies in front of the application (docs/RELIABILITY.md "Failed logins"): X-Forwarded-For is read only when
# this is above 0, and only its right-most N entries (helpdesk.client_address).
HELPDESK_TRUSTED_PROXIES = env_int("HELPDESK_TRUSTED_PROXIES", 0)
if HELPDESK_TRUSTED_PROXIES < 0:
    raise ImproperlyConfigured("HELPDESK_TRUSTED_PROXIES must be 0 or more")
# Failed logins (page, admin and token endpoint alike) within the window, counted
# in the database. Past a limit the attempt is refused (429) before any password
# is hashed, until the window has passed since the last counted failure.
HELPDESK_LOGIN_WINDOW_MINUTES = env_int("HELPDESK_LOGIN_WINDOW_MINUTES", 15)
# One account from one address: the real owner elsewhere is not affected.
HELPDESK_LOGIN_MAX_FAILURES = env_int("HELPDESK_LOGIN_MAX_FAILURES", 5)
# One address, any accounts.
HELPDESK_LOGIN_MAX_FAILURES_PER_IP = env_int("HELPDESK_LOGIN_MAX_FAILURES_PER_IP", 20)
# One account from every address (a distributed attack): after this many failures
# an attempt from an address the account never logged in from waits
# 1, 2, 4, ... seconds after the account's last failure, at most the cap; an
# address with a successful login of the account in the last
# HELPDESK_LOGIN_KNOWN_ADDRESS_DAYS is not slowed.
HELPDESK_LOGIN_ACCOUNT_FREE_FAILURES = env_int("HELPDESK_LOGIN_ACCOUNT_FREE_FAILURES", 10)
HELPDESK_LOGIN_ACCOUNT_MAX_DELAY_SECONDS = env_int("HELPDESK_LOGIN_ACCOUNT_MAX_DELAY_SECONDS", 60)
HELPDESK_LOGIN_KNOWN_ADDRESS_DAYS = env_int("HELPDESK_LOGIN_KNOWN_ADDRESS_DAYS", 30)

AXES_HANDLER = "helpdesk.login_guard.LoginGuardHandler"
AXES_CLIENT_IP_CALLABLE = "helpdesk.client_address.client_address"
AXES_USERNAME_CALLABLE = "helpdesk.login_guard.attempted_username"
AXES_LOCKOUT_CALLABLE = "helpdesk.login_guard.lockout_response"
# The three counters; LoginGuardHandler gives each its own limit.
AXES_LOCKOUT_PARAMETERS = ["ip_address", ["username", "ip_address"], "username"]
AXES_FAILURE_LIMIT = HELPDESK_LOGIN_MAX_FAILURES  # shown in the admin's list of attempts
AXES_COOLOFF_TIME = "helpdesk.login_guard.login_window"
# The guard refuses before the password check; the Nth failure itself still gets
# the ordinary "wrong password" answer, the next attempt the 429.
AXES_LOCK_OUT_AT_FAILURE = False
# A refused attempt is neither counted nor written: it extends nothing and costs
# one read, so a flood of refused attempts costs the server little.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
# LoginGuardHandler clears only the (account, address) pair on success: axes'
# reset would also clear the address's count of other accounts.
AXES_RESET_ON_SUCCESS = False

# --- Pages ----------------------------------------------------------------
# A strict Content-Security-Policy: every script, style, image and request comes
# from this server (htmx and our JS are static files; no inline code, no CDN).
from csp.constants import NONE, SELF  # noqa: E402

CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}
X_FRAME_OPTIONS = "DENY"
SECURE_REFERRER_POLICY = "same-origin"
HELPDESK_PAGE_SIZE = env_int("HELPDESK_PAGE_SIZE", 25)
# How often the manager dashboard refreshes itself (htmx polling).
HELPDESK_DASHBOARD_REFRESH_SECONDS = env_int("HELPDESK_DASHBOARD_REFRESH_SECONDS", 30)
# Its figures are computed at most this often and shared through the cache (0: every request).
HELPDESK_DASHBOARD_CACHE_SECONDS = env_int("HELPDESK_DASHBOARD_CACHE_SECONDS", 10)

# --- API ------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Token first: its WWW-Authenticate header makes "not logged in" a 401.
        "helpdesk.api.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": [
        "helpdesk.api.base.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_PAGINATION_CLASS": "helpdesk.api.base.Pagination",
    "PAGE_SIZE": 25,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "helpdesk.api.base.exception_handler",
    "DEFAULT_THROTTLE_RATES": {
        "auth": os.environ.get("HELPDESK_AUTH_THROTTLE", "20/min"),
    },
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Helpdesk API",
    "DESCRIPTION": "Tiered helpdesk with built-in application monitoring.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Served from drf-spectacular-sidecar: the docs work without internet.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        # Urgency, impact and application criticality share one scale (high, medium,
        # low): one enum, or drf-spectacular warns (and check --deploy fails) about two
        # names for the same choice set.
        "LevelEnum": "catalog.models.Level",
        "SourceKindEnum": "monitoring.models.SourceKind",
        "KindEnum": "tickets.models.Kind",
        "MailboxKindEnum": "mail.models.MailboxKind",
    },
}

# --- Celery ---------------------------------------------------------------
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "filesystem://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    _broker_dir = VAR_DIR / "broker"
    for _sub in ("queue", "processed", "control"):
        (_broker_dir / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {"socket_connect_timeout": 2, "socket_timeout": 5}
CELERY_TASK_IGNORE_RESULT = True
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_TIMEZONE = "UTC"
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A publish that cannot reach the broker fails fast; callers fall back
# (see helpdesk.tasks.enqueue) instead of blocking a web request.
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.5}
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")

# --- Product settings ------------------------------------------------------
HELPDESK_TIERS = env_int("HELPDESK_TIERS", 3)
if not 1 <= HELPDESK_TIERS <= 3:
    raise ImproperlyConfigured("HELPDESK_TIERS must be 1, 2 or 3")
HELPDESK_AUTOCLOSE_DAYS = env_int("HELPDESK_AUTOCLOSE_DAYS", 7)
HELPDESK_ATTACHMENT_MAX_MB = env_int("HELPDESK_ATTACHMENT_MAX_MB", 10)
# Comment attachments: outside the web root, read only by the download view after
# a visibility check. Several web machines need this on a shared volume.
HELPDESK_ATTACHMENT_ROOT = Path(os.environ.get("HELPDESK_ATTACHMENT_ROOT", VAR_DIR / "attachments"))
HELPDESK_INCIDENT_IMPACT_LINKS = env_int("HELPDESK_INCIDENT_IMPACT_LINKS", 5)
HELPDESK_SAMPLE_RETENTION_DAYS = env_int("HELPDESK_SAMPLE_RETENTION_DAYS", 30)
HELPDESK_ESCALATION_TICK_SECONDS = env_int("HELPDESK_ESCALATION_TICK_SECONDS", 60)
# Tickets a rule fires on per transaction: smaller batches hold row locks for less
# time; a worker killed mid-tick loses at most its current batch (rolled back whole).
HELPDESK_ESCALATION_BATCH_SIZE = env_int("HELPDESK_ESCALATION_BATCH_SIZE", 5000)
HELPDESK_POLL_DISPATCH_SECONDS = env_int("HELPDESK_POLL_DISPATCH_SECONDS", 3)
# How long an Idempotency-Key replays its first answer (helpdesk.idempotency).
HELPDESK_IDEMPOTENCY_TTL_HOURS = env_int("HELPDESK_IDEMPOTENCY_TTL_HOURS", 24)
# API tokens expire this long after they are issued (helpdesk.tokens).
HELPDESK_TOKEN_TTL_HOURS = env_int("HELPDESK_TOKEN_TTL_HOURS", 720)
if not 1 <= HELPDESK_TOKEN_TTL_HOURS <= 24 * 365 * 10:
    raise ImproperlyConfigured("HELPDESK_TOKEN_TTL_HOURS must be between 1 and 87600 (ten years)")
# PATCH of a versioned object without If-Match is a 428 (lost-update protection).
HELPDESK_REQUIRE_IF_MATCH = env_bool("HELPDESK_REQUIRE_IF_MATCH", True)

# `expires` drops runs that queued up while no worker was there.
CELERY_BEAT_SCHEDULE: dict = {
    # SLA breaches and escalation rules.
    "escalation-tick": {
        "task": "escalation.tick",
        "schedule": float(HELPDESK_ESCALATION_TICK_SECONDS),
        "options": {"expires": max(HELPDESK_ESCALATION_TICK_SECONDS - 5, 5)},
    },
    # The notification outbox sweep (broker outages, failed attempts).
    "escalation-resend-notifications": {
        "task": "escalation.resend_notifications",
        "schedule": 60.0,
        "options": {"expires": 55},
    },
    "tickets-autoclose": {"task": "tickets.autoclose_resolved", "schedule": 3600.0, "options": {"expires": 3000}},
    "helpdesk-purge-idempotency-keys": {
        "task": "helpdesk.purge_idempotency_keys",
        "schedule": 3600.0,
        "options": {"expires": 3000},
    },
    "helpdesk-purge-login-records": {
        "task": "helpdesk.purge_login_records",
        "schedule": 86400.0,
        "options": {"expires": 3600},
    },
    "helpdesk-purge-api-tokens": {
        "task": "helpdesk.purge_api_tokens",
        "schedule": 86400.0,
        "options": {"expires": 3600},
    },
    # Files whose attachment rows are gone (deleted with their comment).
    "tickets-purge-attachment-files": {
        "task": "tickets.purge_attachment_files",
        "schedule": 86400.0,
        "options": {"expires": 3600},
    },
    # Monitors are polled within their interval + 5 s.
    "monitoring-dispatch": {
        "task": "monitoring.dispatch_due_monitors",
        "schedule": float(HELPDESK_POLL_DISPATCH_SECONDS),
        "options": {"expires": HELPDESK_POLL_DISPATCH_SECONDS},
    },
    # IMAP mailboxes are polled within their interval + a few seconds.
    "mail-dispatch-due-mailboxes": {
        "task": "mail.dispatch_due_mailboxes",
        "schedule": float(HELPDESK_POLL_DISPATCH_SECONDS),
        "options": {"expires": HELPDESK_POLL_DISPATCH_SECONDS},
    },
    "mail-purge-ignored-raw": {"task": "mail.purge_ignored_raw", "schedule": 86400.0, "options": {"expires": 3600}},
    "monitoring-purge-samples": {"task": "monitoring.purge_samples", "schedule": 86400.0, "options": {"expires": 3600}},
    # Stored Alertmanager pushes the broker never got (outage) or a dead worker left.
    "monitoring-resume-alertmanager-pushes": {
        "task": "monitoring.resume_alertmanager_pushes",
        "schedule": 60.0,
        "options": {"expires": 55},
    },
}
HELPDESK_SYSTEM_USERNAME = "system"
# An active ticket this far into its resolution time is "at risk" on dashboards.
HELPDESK_AT_RISK_PCT = env_int("HELPDESK_AT_RISK_PCT", 80)

# --- Outbound requests (docs/RELIABILITY.md "Outbound requests", helpdesk/outbound.py) -------------------------
# Metric sources, webhooks and IMAP never reach loopback, link-local (cloud
# metadata), unspecified, multicast or reserved addresses, nor this product's own
# database, broker and cache; private ranges are allowed. Comma-separated CIDRs,
# addresses or host names (*.example.com for a domain): ALLOW lets them through,
# DENY refuses more and wins over ALLOW.
HELPDESK_OUTBOUND_ALLOW = env_list("HELPDESK_OUTBOUND_ALLOW", "")
HELPDESK_OUTBOUND_DENY = env_list("HELPDESK_OUTBOUND_DENY", "")
# IMAP over TLS verifies the server's certificate against the system's trust store;
# a PEM file of further CAs (a company's own) to trust as well (mail/imap.py).
HELPDESK_MAIL_CA_FILE = os.environ.get("HELPDESK_MAIL_CA_FILE", "")

# --- Notifications ------------------------------------------------------------
# Webhook bodies are signed with each endpoint's own secret (escalation.WebhookEndpoint,
# docs/WEBHOOKS.md), never with SECRET_KEY.
HELPDESK_WEBHOOK_TIMEOUT_SECONDS = env_int("HELPDESK_WEBHOOK_TIMEOUT_SECONDS", 5)
HELPDESK_NOTIFY_MAX_ATTEMPTS = env_int("HELPDESK_NOTIFY_MAX_ATTEMPTS", 5)
# A rule firing on more tickets than this in one batch sends each recipient one digest.
HELPDESK_NOTIFY_DIGEST_AFTER = env_int("HELPDESK_NOTIFY_DIGEST_AFTER", 5)
HELPDESK_BASE_URL = os.environ.get("HELPDESK_BASE_URL", "http://127.0.0.1:8000")
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "helpdesk@localhost")
# Outbound mail (docs/EMAIL.md): SMTP with Django's own variables when EMAIL_HOST is set,
# otherwise one file per message batch under var/mail/ (EMAIL_FILE_PATH to move it).
EMAIL_HOST = os.environ.get("EMAIL_HOST", "")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10)
EMAIL_FILE_PATH = os.environ.get("EMAIL_FILE_PATH", str(VAR_DIR / "mail"))
EMAIL_BACKEND = os.environ.get(
    "EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend" if EMAIL_HOST else "django.core.mail.backends.filebased.EmailBackend",
)
if EMAIL_USE_TLS and EMAIL_USE_SSL:
    raise ImproperlyConfigured("Set EMAIL_USE_TLS or EMAIL_USE_SSL, not both")

# --- Conversations by e-mail (docs/EMAIL.md) ----------------------------------------
# The sender of customer and agent mail (a mailbox's address is used for its tickets).
HELPDESK_EMAIL_FROM = os.environ.get("HELPDESK_EMAIL_FROM", DEFAULT_FROM_EMAIL)
# A customer's reply within this many days of the resolution reopens the ticket; later, a new one follows it.
HELPDESK_REOPEN_DAYS = env_int("HELPDESK_REOPEN_DAYS", 14)
# More messages than this from one sender in an hour are ignored (mail loops, floods).
HELPDESK_MAIL_MAX_PER_SENDER_HOUR = env_int("HELPDESK_MAIL_MAX_PER_SENDER_HOUR", 20)
# A bigger message is quarantined (kept, not parsed); attachments have their own limit.
HELPDESK_MAIL_MAX_BYTES = env_int("HELPDESK_MAIL_MAX_BYTES", 40 * 2**20)
# Messages taken per IMAP poll (the rest at the next poll) and the IMAP socket timeout.
HELPDESK_MAIL_POLL_BATCH = env_int("HELPDESK_MAIL_POLL_BATCH", 500)
HELPDESK_MAIL_IMAP_TIMEOUT_SECONDS = env_int("HELPDESK_MAIL_IMAP_TIMEOUT_SECONDS", 30)
# A CA bundle for IMAP servers with a private CA (default: the system's).
HELPDESK_MAIL_CA_FILE = os.environ.get("HELPDESK_MAIL_CA_FILE", "")
# Ignored messages keep their bytes this long (for "why was this ignored?"), then only their row.
HELPDESK_MAIL_KEEP_IGNORED_DAYS = env_int("HELPDESK_MAIL_KEEP_IGNORED_DAYS", 30)
# Providers' inbound webhooks (docs/EMAIL.md "Providers"), through django-anymail: inbound
# only, outbound stays on EMAIL_*. Each endpoint answers 404 until its secret is set:
# "user:password" pairs (comma-separated, for rotation) for the basic-auth providers
# (Postmark, SendGrid, Amazon SES), Mailgun's signing key for Mailgun.
ANYMAIL = {
    "WEBHOOK_SECRET": env_list("HELPDESK_ANYMAIL_WEBHOOK_SECRET", ""),
    "MAILGUN_WEBHOOK_SIGNING_KEY": os.environ.get("MAILGUN_WEBHOOK_SIGNING_KEY", ""),
    # Never fetch anything a payload names: SNS subscriptions are confirmed by the operator.
    "AMAZON_SES_AUTO_CONFIRM_SNS_SUBSCRIPTIONS": False,
}

# --- Operations endpoints and push limits (docs/RELIABILITY.md) ------------------
# /metrics needs `Authorization: Bearer <this>` when set; unset, production serves it
# to direct loopback connections only (helpdesk.ops.metrics_refusal).
HELPDESK_METRICS_TOKEN = os.environ.get("HELPDESK_METRICS_TOKEN", "")
# Probes and scrapers talk plain HTTP to the process on the internal network: no
# redirect to HTTPS for these three (a redirect would not protect a token already sent).
SECURE_REDIRECT_EXEMPT = [r"^(healthz|readyz|metrics)$"]
# An Alertmanager push with more alerts is a 413 (set Alertmanager's `max_alerts`);
# one with more than INLINE alerts is stored and applied by a worker (202).
HELPDESK_ALERTMANAGER_MAX_ALERTS = env_int("HELPDESK_ALERTMANAGER_MAX_ALERTS", 5000)
HELPDESK_ALERTMANAGER_INLINE_ALERTS = env_int("HELPDESK_ALERTMANAGER_INLINE_ALERTS", 20)
# Raw samples per push request (413 beyond: the sender splits the batch).
HELPDESK_PUSH_MAX_SAMPLES = env_int("HELPDESK_PUSH_MAX_SAMPLES", 1000)

# --- Logging ----------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"django.request": {"level": "ERROR"}},
}

# --- Production hardening -----------------------------------------------------
if PRODUCTION:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
