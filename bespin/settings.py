"""Bespin settings. The environment decides everything; see docs/operations.md, "Configuration"."""

import re
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from redis.connection import parse_url as parse_redis_url

from bespin.env import env_bool, env_duration, env_int, env_int_map, env_list, env_rate, env_str

BASE_DIR = Path(__file__).resolve().parent.parent


def _host_port(name: str, entry: str) -> tuple[str, int]:
    host, colon, port = entry.rpartition(":")
    if not colon or not host or not port.isdigit():
        raise ImproperlyConfigured(f"{name}: expected host:port entries separated by commas, not {entry!r}")
    return host.strip("[]"), int(port)


VERSION = "1.0.0"

DEBUG = env_bool("DEBUG", False)
# The development file (.env.dev) this process's settings came from, if any (bespin/devenv.py).
ENV_FILE_READ = env_str("BESPIN_ENV_FILE_READ", "")
if ENV_FILE_READ and not DEBUG:
    # A production process (a worker, a migration) started from a checkout where `make dev`
    # once ran: the file would turn callbacks to private addresses on, among others.
    raise ImproperlyConfigured(
        f"settings were read from {ENV_FILE_READ}, the development file `make dev` writes, with DEBUG off: "
        "in production remove it, or set BESPIN_ENV_FILE= (empty) so that nothing reads it"
    )
SECRET_KEY = env_str("SECRET_KEY") or ""
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off (`make dev` writes both into .env.dev)")
    # Development only: a fixed key so sessions survive a restart of `make dev`.
    SECRET_KEY = "bespin-development-key-not-for-production"

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"] if not DEBUG else ["*"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
PORT = env_int("PORT", 8000, minimum=1)
if env_bool("BESPIN_BEHIND_TLS_PROXY", False):
    # The proxy terminates TLS: trust its X-Forwarded-Proto so links and cookies say https/wss.
    # Only then: without a proxy that sets the header, any client could claim https.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    # Cookies that never travel over plain HTTP, where anyone on the path could read a session.
    SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = True
    # Browsers that once saw Bespin over https refuse plain http to it for this long (a year).
    # Subdomains too: they are subdomains of the host Bespin is served on (jobs.example.com's,
    # not example.com's), which nothing else should be serving over plain http. Served at a
    # domain's apex with plain-http siblings, set BESPIN_HSTS_SECONDS=0 and let the proxy send
    # the header it wants. HSTS is sent on https requests only, as it must be.
    SECURE_HSTS_SECONDS = env_int("BESPIN_HSTS_SECONDS", 365 * 24 * 3600, minimum=0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    # No SECURE_SSL_REDIRECT: the proxy redirects http to https. Django would also redirect
    # what reaches it without the proxy (health probes, a Prometheus scrape on the internal
    # port), which sends no X-Forwarded-Proto and must get an answer, not a 301.
SILENCED_SYSTEM_CHECKS = [
    # SECURE_SSL_REDIRECT is off on purpose: see above.
    "security.W008",
    # HSTS preloading commits the whole registered domain, every subdomain, to browsers' lists
    # for months: a decision for the domain's owner, not for one application on it.
    "security.W021",
]

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "channels",
    "django_rq",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_tasks",
    "bespin.apps.BespinConfig",
    "accounts",
    "jobs",
    "schedules",
    "webhooks",
    "callbacks",
    "ops",
    # Your apps: each one's `tasks` module is loaded at start, its @task functions run here.
    *env_list("BESPIN_APPS", []),
]

MIDDLEWARE = [
    # First, so that a PostgreSQL or Redis outage anywhere below answers 503, never 500.
    "bespin.lib.outages.OutageMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "bespin.urls"
ASGI_APPLICATION = "bespin.asgi.application"
# What bespin.asgi takes from the apps: ASGI middleware in front of Django's HTTP handling
# (webhook deliveries are answered there) and the WebSockets' URLs.
ASGI_HTTP_MIDDLEWARE = ["webhooks.endpoint.WebhookIngress"]
ASGI_WEBSOCKET_URLPATTERNS = "jobs.routing.websocket_urlpatterns"
WSGI_APPLICATION = "bespin.wsgi.application"

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
            ],
        },
    },
]

# PostgreSQL is the system of record. Under ASGI Django's persistent connections leak
# across request threads, so the web side uses psycopg's pool (Django >= 5.1) instead.
DATABASES = {
    "default": dj_database_url.parse(
        # No health check on each check-out (a SELECT 1 round trip per request and per job):
        # a connection that broke while pooled fails its first query, which answers 503
        # (bespin.lib.outages), and psycopg's pool drops it when it comes back.
        env_str("DATABASE_URL", "postgres:///bespin"),
        conn_max_age=0,
        conn_health_checks=False,
    )
}
if DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
    raise ImproperlyConfigured("DATABASE_URL must point at PostgreSQL (postgres://…)")
if env_bool("BESPIN_DB_POOL", True):
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": 1,
        "max_size": env_int("BESPIN_DB_POOL_SIZE", 10, minimum=1),
        # While PostgreSQL is down, a request waits this long for a connection, then gets 503.
        "timeout": 5,
    }
# PgBouncer in transaction mode: DATABASE_URL is the pooler and DATABASE_DIRECT_URL the
# server itself, for what needs a session of its own: migrations (`manage.py migrate` takes
# it) and the callbacks' LISTEN. Through the pooler, no server-side cursor (it would outlive
# the transaction that holds the server connection) and no prepared statement (Django's
# default; Bespin's async reads are told too).
DATABASE_DIRECT_URL = env_str("DATABASE_DIRECT_URL", "")
SESSION_DATABASE = "default"
if DATABASE_DIRECT_URL:
    DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = True
    DATABASES["direct"] = dj_database_url.parse(DATABASE_DIRECT_URL, conn_max_age=0, conn_health_checks=False)
    DATABASES["direct"]["TEST"] = {"MIRROR": "default"}
    if DATABASES["direct"]["ENGINE"] != "django.db.backends.postgresql":
        raise ImproperlyConfigured("DATABASE_DIRECT_URL must point at PostgreSQL (postgres://…)")
    SESSION_DATABASE = "direct"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env_str("REDIS_URL", "redis://localhost:6379/0")
# The Redis password apart from the URL (a Secret's key beside a ConfigMap's URL): used when
# REDIS_URL carries none.
if (_redis_password := env_str("REDIS_PASSWORD", "")) and not urlsplit(REDIS_URL).password:
    _parts = urlsplit(REDIS_URL)
    _user = quote(unquote(_parts.username or ""), safe="")
    _host = _parts.netloc.rpartition("@")[2]
    REDIS_URL = urlunsplit(_parts._replace(netloc=f"{_user}:{quote(_redis_password, safe='')}@{_host}"))
try:
    # As redis-py reads it (redis://, rediss://, unix://; the database from the path or ?db=).
    _redis_parsed = parse_redis_url(REDIS_URL)
except ValueError as error:
    raise ImproperlyConfigured(f"REDIS_URL: {error}") from None
_redis_db = str(_redis_parsed.get("db") or 0)
# Redis behind Sentinel: every client (queues, channel layer, cache, limits, heartbeats,
# locks) asks these sentinels for the master of REDIS_SENTINEL_MASTER, and asks again when it
# fails over. REDIS_URL then gives only the database number and the master's credentials
# (its host is not used); REDIS_SENTINEL_PASSWORD is the sentinels' own, if they have one.
REDIS_SENTINELS = [_host_port("REDIS_SENTINELS", entry) for entry in env_list("REDIS_SENTINELS", [])]
REDIS_SENTINEL_MASTER = env_str("REDIS_SENTINEL_MASTER", "mymaster")
REDIS_SENTINEL_PASSWORD = env_str("REDIS_SENTINEL_PASSWORD", "") or None
REDIS_AUTH = {
    "db": int(_redis_db),
    "username": _redis_parsed.get("username"),
    "password": _redis_parsed.get("password"),
}
# How the sentinels themselves are reached: short timeouts, as a sentinel that does not
# answer is skipped for the next.
REDIS_SENTINEL_KWARGS = {"password": REDIS_SENTINEL_PASSWORD, "socket_timeout": 1, "socket_connect_timeout": 1}

CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL},
}
if REDIS_SENTINELS:
    CACHES["default"]["OPTIONS"] = {"pool_class": "bespin.lib.redis.SentinelCachePool"}

CHANNEL_LAYERS = {
    "default": {
        # Redis pub/sub: a status change is one PUBLISH per group, delivered at once to the
        # servers that have a watcher in it (bespin/server/channel_layer.py). The core layer
        # costs two more round trips per group (its membership sorted set), and polls one Redis queue per server process
        # that dropped updates past its capacity with thousands of sockets (docs/BENCHMARKS.md).
        # Either way a message is lost if Redis is down as it is sent; a WebSocket sends the
        # job's current state on connect, so a client that reconnects catches up.
        "BACKEND": "bespin.server.channel_layer.PubSubChannelLayer",
        "CONFIG": {
            # A read timeout longer than any wait, and a pool that waits rather than raising
            # (redis-py 8 caps a pool at 100 connections by default).
            "hosts": [
                {
                    **(
                        {
                            "sentinels": REDIS_SENTINELS,
                            "master_name": REDIS_SENTINEL_MASTER,
                            "sentinel_kwargs": REDIS_SENTINEL_KWARGS,
                            **REDIS_AUTH,
                        }
                        if REDIS_SENTINELS
                        else {"address": REDIS_URL}
                    ),
                    "socket_timeout": 30,
                    "socket_connect_timeout": 5,
                    "max_connections": 2000,
                }  # fmt: skip
            ],
            # Pub/sub channels are shared by every database of a Redis server: the database
            # number keeps two Bespins on one server (make dev and the tests) apart.
            "prefix": f"bespin:{_redis_db}:layer",
        },
    },
}

# One queue per job priority. A worker started on `default` (`manage.py rqworker default`, as
# deployments run it) serves all three, high first (jobs.execution.worker.BespinWorker).
_rq_connection = (
    {"SENTINELS": REDIS_SENTINELS, "MASTER_NAME": REDIS_SENTINEL_MASTER, "SENTINEL_KWARGS": REDIS_SENTINEL_KWARGS,
     "DB": REDIS_AUTH["db"], "USERNAME": REDIS_AUTH["username"], "PASSWORD": REDIS_AUTH["password"]}
    if REDIS_SENTINELS
    else {"URL": REDIS_URL}
)  # fmt: skip
RQ_QUEUES = {name: {**_rq_connection, "DEFAULT_TIMEOUT": 600} for name in ("high", "default", "low")}
RQ = {"WORKER_CLASS": "jobs.execution.worker.BespinWorker"}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
# Where `make build` (collectstatic) puts hashed, compressed copies for WhiteNoise to serve.
STATIC_ROOT = Path(env_str("BESPIN_STATIC_ROOT", "") or BASE_DIR / "staticfiles")
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        # Hashed names from collectstatic's manifest, and the source file's own name for what
        # the manifest lacks (not collected, or collected before the file existed): a server
        # started without `make build` serves every page, never a 500 (bespin/server/staticfiles.py).
        "BACKEND": "bespin.server.staticfiles.ManifestOrSourceStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
# ...and WhiteNoise serves those source files (what collectstatic would collect, nothing else);
# the collected hashed copies still come from STATIC_ROOT, compressed and cached for good.
WHITENOISE_USE_FINDERS = True
# Files served at the site's root, such as /favicon.ico, which browsers ask for unprompted.
WHITENOISE_ROOT = BASE_DIR / "static" / "root"


# WebSockets open at once per client address (0: no cap), and how often a stream of a user's,
# a team's or the site's jobs checks again that its user may still watch it (seconds).
WS_MAX_PER_ADDRESS = env_int("BESPIN_WS_MAX_PER_ADDRESS", 100, minimum=0)
WS_RECHECK_SECONDS = env_int("BESPIN_WS_RECHECK_SECONDS", 60, minimum=1)
# IPv6 clients are counted by their network of this many bits (a host often has a /64).
IPV6_PREFIX = env_int("BESPIN_IPV6_PREFIX", 64, minimum=1)
if IPV6_PREFIX > 128:
    raise ImproperlyConfigured(f"BESPIN_IPV6_PREFIX={IPV6_PREFIX}: at most 128")
# Job creation: anonymous callers get a small slice, signed-in users a larger one. Rates are
# counted atomically in Redis; 0 turns a cap off.
THROTTLE_ANON = env_rate("BESPIN_THROTTLE_ANON", "120/min")
THROTTLE_USER = env_rate("BESPIN_THROTTLE_USER", "1200/min")
# Changes a signed-in user makes to their API token and callback secret on the API access page.
THROTTLE_CREDENTIALS = env_rate("BESPIN_THROTTLE_CREDENTIALS", "30/h")
ANON_CREATE = env_bool("BESPIN_ANON_CREATE", True)
ANON_MAX_UNFINISHED = env_int("BESPIN_ANON_MAX_UNFINISHED", 20, minimum=0)
USER_MAX_UNFINISHED = env_int("BESPIN_USER_MAX_UNFINISHED", 10_000, minimum=0)

REST_FRAMEWORK = {
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "bespin.lib.negotiation.Negotiation",
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_PARSER_CLASSES": ["bespin.lib.jsonbody.JSONParser"],
    # Token first: an anonymous API call then gets 401 with `WWW-Authenticate: Token`.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    # Proxies in front whose X-Forwarded-For to trust; 0 takes the client's own address, so a
    # client cannot pick its identity (and its throttle bucket) with a header.
    "NUM_PROXIES": env_int("BESPIN_NUM_PROXIES", 0, minimum=0),
    "DEFAULT_PAGINATION_CLASS": "bespin.lib.pagination.NewestFirst",
    "PAGE_SIZE": 20,
    "EXCEPTION_HANDLER": "bespin.lib.errors.api_exception_handler",
    "DEFAULT_THROTTLE_RATES": {"job_create_anon": THROTTLE_ANON},
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    "DEFAULT_SCHEMA_CLASS": "bespin.lib.schema.BespinAutoSchema",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Bespin API",
    "DESCRIPTION": "Create jobs, watch them over WebSockets (/api/ws/jobs?job_id=ID), receive signed webhooks. "
    'Every error is {"error": "<reason>"}, with "fields" for bad input.',
    "VERSION": VERSION,
    "SERVE_INCLUDE_SCHEMA": False,
    # The interactive page's files come from the sidecar package, not a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Request bodies get components of their own (`JobCreateRequest` beside `Job`): a
    # generated client then needs no read-only field to send one.
    "COMPONENT_SPLIT_REQUEST": True,
    # After drf-spectacular's own: the answers every operation can give and its links
    # (bespin/lib/schema.py), then each app's operations that Django's URLs do not show.
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "bespin.lib.schema.postprocess",
        "jobs.api.schema.postprocess",
        "schedules.schema.postprocess",
        "webhooks.schema.postprocess",
        "ops.metrics.postprocess",
    ],
    # One name for each set of choices, wherever a field offers it.
    "ENUM_NAME_OVERRIDES": {
        "JobStatusEnum": "jobs.models.JobStatus",
        "CancellableStatusEnum": "jobs.models.CANCELLABLE_STATUSES",
        "RetryableStatusEnum": "jobs.models.RETRYABLE_STATUSES",
        "PriorityEnum": "jobs.models.Priority",
        "JobTypeEnum": "jobs.api.schema.kind_names",
    },
}

# Prometheus metrics at /metrics, for `Authorization: Bearer <token>`; no token, not served
# (they reveal job and webhook volumes). Surrounding blanks are dropped: a token read from a
# file often ends with a newline the scraper does not send.
METRICS_TOKEN = (env_str("BESPIN_METRICS_TOKEN", "") or "").strip()

# The largest request body, webhooks aside (bespin/server/bodylimit.py): 413 past it.
MAX_BODY_BYTES = env_int("BESPIN_MAX_BODY_BYTES", 1024 * 1024, minimum=1)
DATA_UPLOAD_MAX_MEMORY_SIZE = MAX_BODY_BYTES

# Tasks: Bespin is the backend of Django's Tasks API (django_tasks on Django 5.2), so that
# `my_task.enqueue(...)` creates a Bespin job (jobs/backend.py).
TASKS = {"default": {"BACKEND": "jobs.backend.BespinBackend"}}
# The tasks offered to API clients, schedules, webhook triggers and the dashboard beside those
# their options expose, by name; and to anonymous callers (docs/tasks.md).
API_TASKS = frozenset(env_list("BESPIN_API_TASKS", []))
ANON_TASKS = frozenset(env_list("BESPIN_ANON_TASKS", []))
# Per task: seconds one attempt may run, and attempts after a failure (`name=value,…`),
# over what its options say.
TASK_TIMEOUT = env_int_map("BESPIN_TASK_TIMEOUT", minimum=1)
TASK_RETRIES = env_int_map("BESPIN_TASK_RETRIES", minimum=0)

# The built-in tasks' bounds (jobs/tasks.py)
RANDOM_TEXT_MAX_WORDS = env_int("BESPIN_RANDOM_TEXT_MAX_WORDS", 100_000, minimum=1)
SLEEP_MAX_SECONDS = env_int("BESPIN_SLEEP_MAX_SECONDS", 3600, minimum=1)
# What anonymous callers may ask of each kind (past it: 400, sign in for more).
ANON_RANDOM_TEXT_MAX_WORDS = env_int("BESPIN_ANON_RANDOM_TEXT_MAX_WORDS", 10_000, minimum=1)
ANON_SLEEP_MAX_SECONDS = env_int("BESPIN_ANON_SLEEP_MAX_SECONDS", 10, minimum=0)
# Finished jobs older than this are deleted by the workers' maintenance; empty keeps them.
JOB_RETENTION = env_duration("BESPIN_JOB_RETENTION")
# Sign-in: this many failures for a username from one address, or from one address whatever
# the usernames, within the window, then 429 there.
LOGIN_MAX_FAILURES = env_int("BESPIN_LOGIN_MAX_FAILURES", 10, minimum=1)
LOGIN_ADDRESS_MAX_FAILURES = env_int("BESPIN_LOGIN_ADDRESS_MAX_FAILURES", 50, minimum=1)
LOGIN_FAILURE_WINDOW_SECONDS = env_int("BESPIN_LOGIN_FAILURE_WINDOW", 15 * 60, minimum=1)
# Schedules one user may have (0: no cap); past it, creating one is a 409.
USER_MAX_SCHEDULES = env_int("BESPIN_USER_MAX_SCHEDULES", 100, minimum=0)
# Recovery: a pending job older than this that Redis does not hold is enqueued again.
ENQUEUE_GRACE_SECONDS = env_int("BESPIN_ENQUEUE_GRACE", 10, minimum=0)

# Scheduling and flow control (jobs.timing, jobs.execution.clock, jobs.execution.concurrency).
# How far ahead a job may be asked to run (`run_at`, `delay`); further is a 400.
MAX_DELAY = env_duration("BESPIN_MAX_DELAY", "30d")
if MAX_DELAY is None:
    raise ImproperlyConfigured("BESPIN_MAX_DELAY must be a duration such as 30d")
# Jobs of a kind running at once across every worker, per kind (`sleep=1,random_text=50`);
# overrides the kind's own max_concurrency. 0 lifts a kind's own limit.
MAX_CONCURRENCY = env_int_map("BESPIN_MAX_CONCURRENCY", minimum=0)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    # django_tasks logs each task's start and end too: Bespin's own lines say it (job_change).
    "loggers": {"django.request": {"level": "ERROR"}, "django_tasks": {"level": "CRITICAL"}},
}


# Webhooks
def _webhook_secrets_from_environment() -> dict[str, list[str]]:
    """`<SOURCE>_WEBHOOK_SECRET` defines source `<source>`; several secrets are separated by spaces."""
    import os

    suffix = "_WEBHOOK_SECRET"
    return {
        name[: -len(suffix)].lower(): value.split()
        for name, value in os.environ.items()
        if name.endswith(suffix) and len(name) > len(suffix)
    }


WEBHOOK_SECRETS = _webhook_secrets_from_environment()
# GitHub caps its payloads at 25 MB; most senders stay far below 1 MiB.
WEBHOOK_MAX_BODY_BYTES = env_int("BESPIN_WEBHOOK_MAX_BYTES", 1024 * 1024, minimum=1)
WEBHOOK_RATE_PER_MINUTE = env_int("BESPIN_WEBHOOK_RATE_PER_MINUTE", 6000, minimum=0)
# Deliveries that fail verification, a minute per source and client address, before 429:
# junk is limited apart from the source's rate, which only verified deliveries spend.
WEBHOOK_UNVERIFIED_RATE_PER_MINUTE = env_int("BESPIN_WEBHOOK_UNVERIFIED_RATE_PER_MINUTE", 60, minimum=0)
WEBHOOK_TOLERANCE_SECONDS = env_int("BESPIN_WEBHOOK_TOLERANCE_SECONDS", 300, minimum=0)
WEBHOOK_CONFIG_TTL = env_int("BESPIN_WEBHOOK_CONFIG_TTL", 5, minimum=0)
WEBHOOK_REJECTIONS_KEPT = env_int("BESPIN_WEBHOOK_REJECTIONS_KEPT", 20, minimum=1)
# Deliveries stored together at most; 1 stores each on its own (see webhooks/endpoint.py).
WEBHOOK_MAX_BATCH = env_int("BESPIN_WEBHOOK_MAX_BATCH", 100, minimum=1)


# Completion callbacks (callbacks/): when a job ends, the workers POST it to its callback_url.
def _seconds(name: str, default: str) -> tuple[float, ...]:
    """Seconds separated by commas (`5,30,120`), each finite and not negative."""
    raw = (env_str(name, "") or "").strip() or default
    try:
        values = tuple(float(part) for part in raw.split(","))
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r}: use seconds separated by commas, such as 5,30,120") from None
    if not all(0 <= value < float("inf") for value in values):
        raise ImproperlyConfigured(f"{name}={raw!r}: every value must be a finite number of seconds, 0 or more")
    return values


# The origin links in a callback's body start with (the job resource as GET /api/jobs/<id>
# answers it, where a request's own host would give them).
PUBLIC_URL = (env_str("BESPIN_PUBLIC_URL", "") or "http://localhost:8000").rstrip("/")
if not re.fullmatch(r"https?://[^/?#@\s]+", PUBLIC_URL):
    raise ImproperlyConfigured(f"BESPIN_PUBLIC_URL={PUBLIC_URL!r}: use an origin such as https://bespin.example.com")
# Seconds a receiver has to answer one callback, connection included.
CALLBACK_TIMEOUT = _seconds("BESPIN_CALLBACK_TIMEOUT", "10")[0]
if CALLBACK_TIMEOUT <= 0:
    raise ImproperlyConfigured("BESPIN_CALLBACK_TIMEOUT must be more than 0 seconds")
# The waits before each retry (jittered by ±20%); once they are used up the callback has
# failed. The default: 5 s, 30 s, 2 min, 10 min, 1 h, then every 6 h while within 24 h.
CALLBACK_BACKOFF = _seconds("BESPIN_CALLBACK_BACKOFF", "5,30,120,600,3600,21600,21600,21600")
# Callbacks to loopback, private, link-local and other non-public addresses: for tests and `make dev` only.
CALLBACK_ALLOW_PRIVATE = env_bool("BESPIN_CALLBACK_ALLOW_PRIVATE", False)
# Callbacks each worker sends at once (threads beside RQ's loop, one keep-alive connection each per receiver).
CALLBACK_CONCURRENCY = env_int("BESPIN_CALLBACK_CONCURRENCY", 32, minimum=1)
# One owner's callbacks being sent at once across every worker (0: no cap), so that one
# owner's slow receivers never hold every sender.
CALLBACK_OWNER_IN_FLIGHT = env_int("BESPIN_CALLBACK_OWNER_IN_FLIGHT", 8, minimum=0)
