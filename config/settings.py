"""Nestlab settings, read from the environment only (see README "Configuration").

Defaults give the embedded setup that ``make run`` uses: SQLite in ``var/`` and a filesystem
Celery broker that needs no server. Production sets ``DATABASE_URL`` (PostgreSQL),
``CELERY_BROKER_URL`` (Redis), ``SECRET_KEY``, ``ALLOWED_HOSTS`` and ``NESTLAB_ENCRYPTION_KEY``.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import dj_database_url

from config.env import (
    SettingError,
    env_bool,
    env_choice,
    env_float,
    env_int,
    env_ipv4_network,
    env_list,
    env_range,
    env_secret,
    env_str,
)

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("NESTLAB_VAR_DIR", str(BASE_DIR / "var")))

DEBUG = env_bool("DEBUG", False)

SECRET_KEY = env_secret("SECRET_KEY")
if SECRET_KEY is None:
    if not DEBUG:
        raise SettingError("SECRET_KEY", "is required when DEBUG is off (or use SECRET_KEY_FILE)")
    SECRET_KEY = "nestlab-insecure-development-key-only-for-debug-mode-000000000000"
elif len(SECRET_KEY) < 32:
    raise SettingError("SECRET_KEY", "must be at least 32 characters long")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"] if DEBUG else [])
if not DEBUG and not ALLOWED_HOSTS:
    raise SettingError("ALLOWED_HOSTS", "is required when DEBUG is off (comma-separated host names)")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

# Fernet keys (comma-separated, newest first) for host credentials at rest. See workers.crypto.
_encryption_keys = env_secret("NESTLAB_ENCRYPTION_KEY")
NESTLAB_ENCRYPTION_KEYS = [k.strip() for k in _encryption_keys.split(",") if k.strip()] if _encryption_keys else []
if not NESTLAB_ENCRYPTION_KEYS and not DEBUG:
    raise SettingError(
        "NESTLAB_ENCRYPTION_KEY",
        "is required when DEBUG is off; make one with "
        "`python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'`",
    )

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "knox",
    "axes",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # serves Swagger UI's files from here: no CDN, works offline
    "guardian",
    "tenants",
    "labs",
    "workers",
    "accounts",  # after knox: its admin replaces knox's
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",  # last: turns a flagged lockout into the lockout answer
]

AUTHENTICATION_BACKENDS = [
    # First: refuses a locked-out sign-in before the password is even checked (see "Sign-in limits").
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
    "guardian.backends.ObjectPermissionBackend",
]
ANONYMOUS_USER_NAME = None  # guardian: no anonymous user row; anonymous callers get nothing

ROOT_URLCONF = "config.urls"
# Error reports (the DEBUG page too) blank the passwords inside DATABASE_URL and other URLs.
DEFAULT_EXCEPTION_REPORTER_FILTER = "config.reporting.CredentialsCleansingFilter"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
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


def _database_from_url(url: str) -> dict:
    try:
        config = dj_database_url.parse(url, conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60, minimum=0))
    except Exception as exc:  # dj-database-url raises ValueError and others for bad URLs
        raise SettingError("DATABASE_URL", f"is not a valid database URL: {exc}") from None
    engine = config.get("ENGINE", "")
    if engine.endswith("sqlite3"):
        if not config.get("NAME"):
            raise SettingError("DATABASE_URL", "a sqlite URL needs a file path, e.g. sqlite:////srv/nestlab.sqlite3")
        config["CONN_MAX_AGE"] = 0
        # The web process, workers and beat all write to one file: WAL lets readers run beside a
        # writer, the busy timeout waits for the lock instead of failing, and IMMEDIATE
        # transactions take the write lock up front so two writers never deadlock on upgrade.
        config["OPTIONS"] = {
            "timeout": 30,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=30000;",
        }
    elif engine.endswith("postgresql"):
        config.setdefault("OPTIONS", {})
        config["CONN_HEALTH_CHECKS"] = True
    else:
        raise SettingError("DATABASE_URL", "must use postgres:// (production) or sqlite:// (development)", url)
    return config


DATABASE_URL = env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'nestlab.sqlite3'}")
DATABASES = {"default": _database_from_url(DATABASE_URL)}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(VAR_DIR / "static")))

LOGIN_URL = "/admin/login/"

# Shared by every web process (API throttle counters live here). Set CACHE_URL=redis://... when
# running more than one web process; the default is per process.
CACHE_URL = env_str("CACHE_URL")
if CACHE_URL is None:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
elif CACHE_URL.startswith(("redis://", "rediss://")):
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": CACHE_URL}}
else:
    raise SettingError("CACHE_URL", "must be a redis:// or rediss:// URL", CACHE_URL)

# Security headers. Production sits behind TLS; `manage.py check --deploy` must pass there.
SECURE_TLS = env_bool("NESTLAB_TLS", not DEBUG)
SESSION_COOKIE_SECURE = SECURE_TLS
CSRF_COOKIE_SECURE = SECURE_TLS
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", SECURE_TLS)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000 if SECURE_TLS else 0, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HSTS_SECONDS > 0
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
if env_bool("NESTLAB_BEHIND_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

# --- Celery ------------------------------------------------------------------------------------
_BROKER_DIR = VAR_DIR / "broker"
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "filesystem://")
if CELERY_BROKER_URL.split("://", 1)[0] not in {"filesystem", "redis", "rediss", "amqp", "amqps"}:
    raise SettingError(
        "CELERY_BROKER_URL", "must be a filesystem://, redis://, rediss:// or amqp:// URL", CELERY_BROKER_URL
    )
if CELERY_BROKER_URL.startswith("filesystem://"):
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_BROKER_DIR / "queue"),
        "data_folder_out": str(_BROKER_DIR / "queue"),
        "processed_folder": str(_BROKER_DIR / "processed"),
        "control_folder": str(_BROKER_DIR / "control"),
        "store_processed": False,
    }
else:
    # Longer than any task's hard time limit, so a late-acked task is never redelivered while it
    # still runs (Redis redelivers unacked messages after this many seconds).
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 3600, minimum=5),
    }
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 900, minimum=10)
CELERY_TASK_SOFT_TIME_LIMIT = CELERY_TASK_TIME_LIMIT - 5
CELERY_TASK_DEFAULT_QUEUE = env_str("NESTLAB_DEFAULT_QUEUE", "nestlab")
CELERY_TIMEZONE = TIME_ZONE
CELERY_TASK_ALWAYS_EAGER = False

# --- Nestlab -----------------------------------------------------------------------------------
# Placement policy: "spread" puts each lab on the least-loaded host, "pack" fills hosts in order.
NESTLAB_PLACEMENT_POLICY = env_choice("NESTLAB_PLACEMENT_POLICY", "spread", ("spread", "pack"))
# Allow Basic auth over plain HTTP to hosts. Only the simulator should ever need this.
NESTLAB_ALLOW_PLAINTEXT_WINRM = env_bool("NESTLAB_ALLOW_PLAINTEXT_WINRM", DEBUG)
NESTLAB_WINRM_CA_BUNDLE = env_str("NESTLAB_WINRM_CA_BUNDLE")
# Access VLANs handed to tenants in VLAN mode (parsed here, so a bad value stops start-up).
NESTLAB_VLAN_POOL = env_range("NESTLAB_VLAN_POOL", "100-3999", minimum=1, maximum=4094)

REST_FRAMEWORK = {
    # Token first: its WWW-Authenticate header makes anonymous requests answer 401, not 403.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["config.api.parsers.JSONParser"],
    "DEFAULT_PAGINATION_CLASS": "config.api.pagination.StandardPagination",
    "DEFAULT_FILTER_BACKENDS": [
        "config.api.filters.StrictFilterBackend",
        "config.api.filters.StrictOrderingFilter",
    ],
    "DEFAULT_THROTTLE_CLASSES": [
        "config.api.throttles.AnonThrottle",
        "config.api.throttles.UserThrottle",
        "config.api.throttles.TenantThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env_str("NESTLAB_API_RATE_ANON", "60/min"),
        "user": env_str("NESTLAB_API_RATE_USER", "1200/min"),
        "tenant": env_str("NESTLAB_API_RATE_TENANT", "6000/min"),
    },
    "EXCEPTION_HANDLER": "config.api.errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "config.api.schema.NestlabAutoSchema",
    "DEFAULT_VERSIONING_CLASS": None,
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
for _scope, _rate in REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"].items():
    _number, _, _period = _rate.partition("/")
    if not _number.isdigit() or _period not in {"s", "sec", "second", "m", "min", "minute", "h", "hour", "d", "day"}:
        raise SettingError(f"NESTLAB_API_RATE_{_scope.upper()}", "must look like 100/min (s, min, hour, day)", _rate)

# --- Sign-in limits and API tokens (see README "Sign-in limits and API tokens") --------------------
# django-axes counts failed sign-ins on every way in (API token, admin, Django's auth views) in the
# database, so the count holds across processes and machines. Either limit locks: too many
# failures for one username (from any address), or from one address (for any usernames).
AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_FAILURE_LIMIT = env_int("NESTLAB_LOGIN_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = timedelta(seconds=env_int("NESTLAB_LOGIN_COOLOFF", 900, minimum=1))
# A cool-off runs from the last counted failure; attempts during it are refused but do not extend it.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_LOCKOUT_CALLABLE = "accounts.lockout.lockout_response"
AXES_SENSITIVE_PARAMETERS = ["password"]
# The client address. 0 (the default): REMOTE_ADDR, and X-Forwarded-For is ignored (anyone can
# send one). N: Django sits behind N reverse proxies that each append to X-Forwarded-For (nginx's
# $proxy_add_x_forwarded_for), so the N-th entry from the right is the one the outermost proxy saw.
NESTLAB_PROXY_COUNT = env_int("NESTLAB_PROXY_COUNT", 0, minimum=0, maximum=10)
if NESTLAB_PROXY_COUNT:
    AXES_IPWARE_META_PRECEDENCE_ORDER = ("HTTP_X_FORWARDED_FOR", "REMOTE_ADDR")
    AXES_IPWARE_PROXY_COUNT = NESTLAB_PROXY_COUNT - 1  # ipware counts the proxies *inside* the header
    AXES_IPWARE_PROXY_ORDER = "left-most"
    IPWARE_STRICT = False  # a client's own X-Forwarded-For entries come first and are skipped
else:
    AXES_IPWARE_META_PRECEDENCE_ORDER = ("REMOTE_ADDR",)
# The API's per-address throttle reads the client address the same way (DRF's default would take
# any X-Forwarded-For a client sends, so inventing one would escape the anonymous rate).
REST_FRAMEWORK["NUM_PROXIES"] = NESTLAB_PROXY_COUNT

# django-rest-knox: tokens are stored as SHA-512 digests. A token lapses after NESTLAB_TOKEN_TTL
# seconds without use (each use moves the expiry on); NESTLAB_TOKEN_MAX_AGE, when set, caps a
# token's whole life however much it is used.
_token_max_age = env_int("NESTLAB_TOKEN_MAX_AGE", 0, minimum=0)
REST_KNOX = {
    "TOKEN_TTL": timedelta(seconds=env_int("NESTLAB_TOKEN_TTL", 10 * 3600, minimum=60)),
    "AUTO_REFRESH": True,
    "AUTO_REFRESH_MAX_TTL": timedelta(seconds=_token_max_age) if _token_max_age else None,
    "MIN_REFRESH_INTERVAL": 60,
    "AUTH_HEADER_PREFIX": "Token",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Nestlab API",
    "DESCRIPTION": (
        "Nested-virtualization labs on shared Hyper-V hosts. See the README's REST API section for roles and errors."
    ),
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "LabStateEnum": "labs.states.LabState",
        "RoleEnum": "tenants.models.Role",
        "HostStateEnum": "workers.models.HostState",
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_choice("LOG_LEVEL", "INFO", ("DEBUG", "INFO", "WARNING", "ERROR"))},
}

# --- Workers: hosts, networks, schedules (see README "Workers and Celery") ----------------------
# Dotted path of a callable (Host) -> HypervisorDriver. Tests of services swap in the fake.
NESTLAB_DRIVER_FACTORY = env_str("NESTLAB_DRIVER_FACTORY", "workers.services.hostcalls.winrm_driver")
NESTLAB_WINRM_CALL_DEADLINE = env_int("NESTLAB_WINRM_CALL_DEADLINE", 300, minimum=5)
NESTLAB_NAT_POOL = env_ipv4_network("NESTLAB_NAT_POOL", "10.192.0.0/12")
NESTLAB_NAT_PREFIX_LENGTH = env_int("NESTLAB_NAT_PREFIX_LENGTH", 24, minimum=16, maximum=29)
if NESTLAB_NAT_POOL.prefixlen > NESTLAB_NAT_PREFIX_LENGTH:
    raise SettingError(
        "NESTLAB_NAT_POOL",
        f"must hold at least one /{NESTLAB_NAT_PREFIX_LENGTH} prefix (NESTLAB_NAT_PREFIX_LENGTH)",
        str(NESTLAB_NAT_POOL),
    )
NESTLAB_EXTERNAL_SWITCH = env_str("NESTLAB_EXTERNAL_SWITCH", "nestlab-external")
NESTLAB_RECONCILE_INTERVAL = env_int("NESTLAB_RECONCILE_INTERVAL", 60, minimum=5)
NESTLAB_SCHEDULE_INTERVAL = env_int("NESTLAB_SCHEDULE_INTERVAL", 60, minimum=5)
NESTLAB_ORPHAN_GRACE = env_int("NESTLAB_ORPHAN_GRACE", 600, minimum=0)
NESTLAB_TRANSIENT_DEADLINE = env_int("NESTLAB_TRANSIENT_DEADLINE", 1800, minimum=60)
NESTLAB_EXPIRY_WARNING = env_int("NESTLAB_EXPIRY_WARNING", 3600, minimum=0)
NESTLAB_COURSE_LEAD = env_int("NESTLAB_COURSE_LEAD", 900, minimum=0)
NESTLAB_HOST_LEASE_SECONDS = env_int("NESTLAB_HOST_LEASE_SECONDS", CELERY_TASK_TIME_LIMIT + 60, minimum=5)
NESTLAB_STOP_GRACE = env_int("NESTLAB_STOP_GRACE", 60, minimum=0)
NESTLAB_REQUEUE_AFTER = env_int("NESTLAB_REQUEUE_AFTER", 300, minimum=10)
NESTLAB_HOST_SLOT_WAIT = env_float("NESTLAB_HOST_SLOT_WAIT", 10.0, minimum=0)

CELERY_TASK_ROUTES = {"workers.tasks.reconcile_all": {"queue": CELERY_TASK_DEFAULT_QUEUE}}
CELERY_BEAT_SCHEDULE = {
    "reconcile": {"task": "workers.tasks.reconcile_all", "schedule": NESTLAB_RECONCILE_INTERVAL},
    "schedules": {"task": "workers.tasks.run_schedules", "schedule": NESTLAB_SCHEDULE_INTERVAL},
}
