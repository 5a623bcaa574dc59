"""Tweezers settings: one module, every deployment difference comes from the environment.

With no environment at all (``make demo``) it runs on SQLite under ``var/`` with an embedded
filesystem broker, so a fresh machine needs no services. ``DATABASE_URL`` and
``CELERY_BROKER_URL`` switch it to PostgreSQL and Redis.
"""

import datetime as dt
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
env_file = BASE_DIR / ".env"
if env_file.exists():
    environ.Env.read_env(env_file)

VAR_DIR = Path(env.str("TWEEZERS_VAR_DIR", default=str(BASE_DIR / "var")))

DEBUG = env.bool("DJANGO_DEBUG", default=False)
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY is required when DJANGO_DEBUG is off "
            "(set DJANGO_DEBUG=1 for local development)."
        )
    SECRET_KEY = "dev-only-insecure-key-never-use-in-production"

ALLOWED_HOSTS = env.list(
    "DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost"] if DEBUG else []
)
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    # API tokens: hashed, expiring, revocable (django-rest-knox).
    "knox",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "axes",
    "csp",
    "labeler",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # The language: the switcher's cookie, else the browser's Accept-Language.
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # A one-time password must be replaced before anything else (labeler/security.py).
    "labeler.security.PasswordChangeRequiredMiddleware",
    # The access log line that names the user.
    "labeler.security.AccessLogMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    # Last, as django-axes asks: it turns a locked-out login into a clear refusal.
    "axes.middleware.AxesMiddleware",
]

AUTHENTICATION_BACKENDS = [
    # Counts failed logins (browser form, admin and API token alike) and locks them out.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# Login rate limiting: after 5 failures for one username from one address, that pair waits
# 15 minutes. Keyed on both so an attacker cannot lock a doctor out from elsewhere, and one
# person behind a hospital's NAT cannot lock out the department.
AXES_FAILURE_LIMIT = env.int("TWEEZERS_LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = env.float("TWEEZERS_LOGIN_COOLOFF_HOURS", default=0.25)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
# A lockout ends the cool-off after it began, as the locked-out user is told: attempts during
# it (the user trying again with the right password) do not start the wait over.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_ENABLE_ACCESS_FAILURE_LOG = True
AXES_VERBOSE = False
AXES_USERNAME_CALLABLE = "labeler.security.axes_username"
# Password spraying: one address failing against this many different accounts within the
# cool-off is reported (a SecurityEvent row and a WARNING from the tweezers.security logger),
# without locking out the others behind that address (0 turns the report off).
AXES_HANDLER = "labeler.security.SprayAwareLockoutHandler"
AXES_LOCKOUT_CALLABLE = "labeler.security.lockout_response"
TWEEZERS_LOGIN_SPRAY_LIMIT = env.int("TWEEZERS_LOGIN_SPRAY_LIMIT", default=10)
# The DICOMweb roots PACS imports may contact, comma-separated. Empty turns PACS import off,
# except in the demo (DJANGO_DEBUG), where any http(s) address a manager types is searched.
TWEEZERS_PACS_URLS = env.list("TWEEZERS_PACS_URLS", default=[])
# Total time one PACS request may take, body included, and one PACS import as a whole.
TWEEZERS_PACS_REQUEST_SECONDS = env.float("TWEEZERS_PACS_REQUEST_SECONDS", default=300)
TWEEZERS_PACS_JOB_SECONDS = env.float("TWEEZERS_PACS_JOB_SECONDS", default=3000)
# Webhooks (labeler/services/webhooks.py): the address prefixes hooks may point at,
# comma-separated. Empty turns webhooks off, except in the demo (DJANGO_DEBUG).
TWEEZERS_WEBHOOK_URLS = env.list("TWEEZERS_WEBHOOK_URLS", default=[])
# labels.added is sent at most once per this many seconds per hook, with what came meanwhile.
TWEEZERS_WEBHOOK_LABELS_SECONDS = env.float("TWEEZERS_WEBHOOK_LABELS_SECONDS", default=10)
# Total time one delivery request may take; attempts per delivery, the first retry's wait
# (doubling after each), and how many deliveries failing all their attempts in a row disable
# a hook.
TWEEZERS_WEBHOOK_REQUEST_SECONDS = env.float("TWEEZERS_WEBHOOK_REQUEST_SECONDS", default=10)
TWEEZERS_WEBHOOK_ATTEMPTS = env.int("TWEEZERS_WEBHOOK_ATTEMPTS", default=5)
TWEEZERS_WEBHOOK_RETRY_SECONDS = env.float("TWEEZERS_WEBHOOK_RETRY_SECONDS", default=30)
TWEEZERS_WEBHOOK_DISABLE_AFTER = env.int("TWEEZERS_WEBHOOK_DISABLE_AFTER", default=3)
# Behind the TLS proxy the README recommends, the client's address is in X-Forwarded-For:
# count the proxies in front of Django (set by the deployment, never guessed from the
# header), so the lockout keys on the real client and not on the proxy's address.
TWEEZERS_TRUSTED_PROXY_COUNT = env.int(
    "TWEEZERS_TRUSTED_PROXY_COUNT",
    default=1 if env.bool("DJANGO_BEHIND_TLS_PROXY", default=False) else 0,
)
if TWEEZERS_TRUSTED_PROXY_COUNT:
    AXES_IPWARE_PROXY_COUNT = TWEEZERS_TRUSTED_PROXY_COUNT
    AXES_IPWARE_META_PRECEDENCE_ORDER = ("HTTP_X_FORWARDED_FOR", "REMOTE_ADDR")

# Content-Security-Policy: scripts and styles only from our own origin (htmx and Chart.js are
# vendored, no inline script); inline style attributes stay allowed for bar widths and the
# like. Uploaded images are served by this origin too.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:", "blob:"],
        "font-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

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
                "django.template.context_processors.i18n",
            ],
        },
    },
]

# An empty value means "not set", so `DATABASE_URL= make demo` always gets the embedded default.
DATABASE_URL = env.str("DATABASE_URL", default="") or f"sqlite:///{VAR_DIR / 'tweezers.sqlite3'}"
DATABASES = {"default": env.db_url_config(DATABASE_URL)}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    # The demo runs a web server and a worker against one SQLite file: wait for the
    # writer lock instead of failing, and start write transactions eagerly.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
else:
    # Reconnect after a database restart instead of failing every request once.
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("DJANGO_CONN_MAX_AGE", default=60)
    # Parameters bound on the server and statements prepared once a connection has run them 5
    # times: with client-side binding every next-item and submit planned its statements
    # again (the joined queue-entry read alone took 1.4 ms to plan, 0.13 ms to run).
    # In-process at 100,000 items: next-item 6.7 -> 5.9 ms, submit 10.4 -> 9.5 ms. Set
    # DJANGO_DB_PREPARED=0 behind a pooler in transaction mode (PgBouncer's default), which
    # cannot keep a connection's prepared statements.
    if env.bool("DJANGO_DB_PREPARED", default=True):
        DATABASES["default"].setdefault("OPTIONS", {}).update(
            {"server_side_binding": True, "prepare_threshold": 5}
        )

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# English and Korean; the translations live in locale/ and `make install` compiles them.
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("ko", "한국어")]
LOCALE_PATHS = [BASE_DIR / "locale"]
# The switcher's choice is kept for a year in this cookie (Django's set_language view).
LANGUAGE_COOKIE_AGE = 365 * 24 * 3600
LANGUAGE_COOKIE_SAMESITE = "Lax"
TIME_ZONE = env.str("TWEEZERS_TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env.str("DJANGO_STATIC_ROOT", default=str(VAR_DIR / "staticfiles")))
# Uploaded items (patient images) live outside the static root and are only served through
# views that check project access; MEDIA_URL is never mapped to a public file server.
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(VAR_DIR / "media")))
MEDIA_URL = "/media/"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "project-list"
LOGOUT_REDIRECT_URL = "login"

# --- Single sign-on ----------------------------------------------------------------------
# LDAP / Active Directory (TWEEZERS_LDAP_*) and OpenID Connect (TWEEZERS_OIDC_*), each off
# while its URL is unset; directory groups map to project roles (TWEEZERS_SSO_ROLE_MAP) and
# to the permission to create projects (TWEEZERS_SSO_CREATORS_GROUP) at every login;
# TWEEZERS_LOCAL_PASSWORDS=0 leaves password login to superusers only. config/sso.py turns
# the variables into django-auth-ldap's and mozilla-django-oidc's settings; the README's
# "For hospital IT: single sign-on" has examples.
from config.sso import sso_settings  # noqa: E402

globals().update(sso_settings(env))
# Local passwords go through a ModelBackend that asks labeler/access.py whether they may.
AUTHENTICATION_BACKENDS = [
    *(b for b in AUTHENTICATION_BACKENDS if b != "django.contrib.auth.backends.ModelBackend"),
    "labeler.sso.LocalPasswordBackend",
    *SSO_BACKENDS,  # noqa: F821 (set by sso_settings)
]
CONTENT_SECURITY_POLICY["DIRECTIVES"]["form-action"] += SSO_FORM_ACTION_ORIGINS  # noqa: F821
# The login page's single sign-on button and notices.
TEMPLATES[0]["OPTIONS"]["context_processors"].append("labeler.sso.sign_in_options")
# --- End of single sign-on ---------------------------------------------------------------

SESSION_COOKIE_SECURE = env.bool("DJANGO_SECURE_COOKIES", default=not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SESSION_COOKIE_HTTPONLY = True
# Idle timeout: a session ends after this long without a request (each request renews it).
SESSION_COOKIE_AGE = int(env.float("TWEEZERS_SESSION_IDLE_MINUTES", default=30) * 60)
SESSION_SAVE_EVERY_REQUEST = True
# HSTS whenever cookies are secure, i.e. the site is served over HTTPS.
SECURE_HSTS_SECONDS = (
    env.int("TWEEZERS_HSTS_SECONDS", default=31_536_000) if SESSION_COOKIE_SECURE else 0
)
# The password-reset pages send email: they are off unless email is configured.
EMAIL_HOST = env.str("DJANGO_EMAIL_HOST", default="")
TWEEZERS_PASSWORD_RESET = bool(EMAIL_HOST)
X_FRAME_OPTIONS = "DENY"
# Behind a TLS-terminating proxy that sets X-Forwarded-Proto, let Django see HTTPS requests.
if env.bool("DJANGO_BEHIND_TLS_PROXY", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "labeler.api.authentication.ExpiringTokenAuthentication",
    ],
    # Every API view asks the one access table (labeler/access.py) by URL name and method.
    "DEFAULT_PERMISSION_CLASSES": ["labeler.api.permissions.FollowsPolicy"],
    "DEFAULT_PARSER_CLASSES": [
        "labeler.api.parsers.SafeJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "labeler.api.errors.exception_handler",
}
REST_KNOX = {
    "TOKEN_TTL": dt.timedelta(hours=env.float("TWEEZERS_TOKEN_TTL_HOURS", default=10.0)),
    "AUTH_HEADER_PREFIX": "Token",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Tweezers API",
    "DESCRIPTION": "Active-learning labeling: projects, items, the next-item queue, annotations, "
    "model runs and exports.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["labeler.api.permissions.FollowsPolicy"],
}

# Celery. With no broker configured, an embedded filesystem broker under var/ lets the demo
# run a real worker without Redis. No result backend: tasks record their outcome in the
# database (ModelRun, ImportJob), which is the source of truth.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="") or "filesystem://localhost//"
BROKER_DIR = VAR_DIR / "broker"
if CELERY_BROKER_URL.startswith("filesystem://"):
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "processed_folder": str(BROKER_DIR / "processed"),
        "control_folder": str(BROKER_DIR / "control"),
        "store_processed": False,
    }
else:
    # Longer than the retrain's hard time limit, so a slow run is never delivered twice; a run
    # whose whole worker died is redelivered after this long (its child dying is immediate).
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": env.int("TWEEZERS_BROKER_VISIBILITY_TIMEOUT", default=3600)
    }
CELERY_TASK_IGNORE_RESULT = True
# A submit enqueues its retrain after commit; with the broker down it must fail fast (the
# queued run row is the outbox that the sweep re-sends), not hang the annotator's request.
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.2}
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_ROUTES = {
    "labeler.tasks.retrain_project": {"queue": "training"},
    # Writing a model's encoder for download: heavy like a retrain, never on a request.
    "labeler.tasks.build_model_export": {"queue": "training"},
    # Its own queue, so a worker on a GPU machine can take only embedding.
    "labeler.tasks.embed_features": {"queue": "embedding"},
    # Imports wait on what is outside Tweezers (a PACS that drips its answer for up to
    # TWEEZERS_PACS_JOB_SECONDS, a large upload): their own queue and worker, so no import
    # ever holds the worker that runs every project's retrains.
    "labeler.tasks.run_import_job": {"queue": "imports"},
    "labeler.dicom.tasks.run_pacs_import": {"queue": "imports"},
}
CELERY_TASK_DEFAULT_QUEUE = "default"
# The outbox sweep: re-sends queued runs the broker never got (it was down at submit time).
TWEEZERS_SWEEP_SECONDS = env.float("TWEEZERS_SWEEP_SECONDS", default=60.0)
TWEEZERS_BEAT_STALE_SECONDS = env.float(
    "TWEEZERS_BEAT_STALE_SECONDS", default=5 * TWEEZERS_SWEEP_SECONDS
)
TWEEZERS_OUTBOX_GRACE_SECONDS = env.float("TWEEZERS_OUTBOX_GRACE_SECONDS", default=60.0)
# The beat writes its own heartbeat each TWEEZERS_SWEEP_SECONDS, in its own loop (no task,
# so no queue: a long retrain on the worker cannot make a live beat look dead); /healthz
# reports a beat silent for TWEEZERS_BEAT_STALE_SECONDS.
CELERY_BEAT_SCHEDULER = "config.beat_scheduler:HeartbeatScheduler"
# Each worker writes a heartbeat per queue it consumes from, each TWEEZERS_SWEEP_SECONDS, from
# its main process (config/heartbeat.py; a long task runs in a pool process and does not hold
# it back); /healthz reports a queue whose workers have all been silent this long.
TWEEZERS_WORKER_STALE_SECONDS = env.float(
    "TWEEZERS_WORKER_STALE_SECONDS", default=5 * TWEEZERS_SWEEP_SECONDS
)
# /healthz's check that the broker answers: at most this long, so a probe never hangs on it.
TWEEZERS_BROKER_CHECK_SECONDS = env.float("TWEEZERS_BROKER_CHECK_SECONDS", default=1.0)
CELERY_BEAT_SCHEDULE = {
    "enqueue-stale-queued-runs": {
        "task": "labeler.tasks.enqueue_stale_runs",
        "schedule": TWEEZERS_SWEEP_SECONDS,
    },
    "fail-dead-import-jobs": {
        "task": "labeler.tasks.fail_dead_import_jobs",
        "schedule": TWEEZERS_SWEEP_SECONDS,
    },
    # Webhook deliveries created while the broker was down.
    "sweep-webhook-deliveries": {
        "task": "labeler.tasks.sweep_webhook_deliveries",
        "schedule": TWEEZERS_SWEEP_SECONDS,
    },
    # Expired API tokens are refused when presented; this deletes the rest of them.
    "delete-expired-tokens": {
        "task": "labeler.tasks.delete_expired_tokens",
        "schedule": 3600,
    },
}
# An import job still queued or running this long after it was created lost its worker (the
# import task's hard time limit is 3,700 s): the sweep marks it failed.
TWEEZERS_IMPORT_STALE_SECONDS = env.int("TWEEZERS_IMPORT_STALE_SECONDS", default=4000)
# API uploads above this size go through the background import job, like the browser's, so
# a request timeout can never cut an import off without a report.
TWEEZERS_SYNC_IMPORT_MAX_BYTES = env.int("TWEEZERS_SYNC_IMPORT_MAX_BYTES", default=2 * 1024 * 1024)

# Tweezers' own knobs.
TWEEZERS_ARTIFACT_DIR = Path(env.str("TWEEZERS_ARTIFACT_DIR", default=str(VAR_DIR / "artifacts")))
TWEEZERS_EMBEDDING_DIR = Path(
    env.str("TWEEZERS_EMBEDDING_DIR", default=str(VAR_DIR / "embeddings"))
)
TWEEZERS_UPLOAD_DIR = Path(env.str("TWEEZERS_UPLOAD_DIR", default=str(VAR_DIR / "uploads")))
# The model every retrain trains: "" = the serving representation's own (cross-validated
# logistic regression), "auto" = chosen per retrain by cross-validation (learning/automl.py).
TWEEZERS_MODEL = env.str("TWEEZERS_MODEL", default="")
# Semi-supervised training on the unlabeled pool (learning/semi_supervised.py): "auto" = used
# where the evaluation set (or cross-validation on the labels) shows it helps, "on", "off".
TWEEZERS_SEMI_SUPERVISED = env.str("TWEEZERS_SEMI_SUPERVISED", default="off")
if TWEEZERS_SEMI_SUPERVISED not in ("off", "on", "auto"):
    raise ImproperlyConfigured("TWEEZERS_SEMI_SUPERVISED must be off, on or auto")
TWEEZERS_MAX_FILE_BYTES = env.int("TWEEZERS_MAX_FILE_BYTES", default=20 * 1024 * 1024)
TWEEZERS_MAX_UPLOAD_BYTES = env.int("TWEEZERS_MAX_UPLOAD_BYTES", default=500 * 1024 * 1024)
TWEEZERS_MAX_IMAGE_PIXELS = env.int("TWEEZERS_MAX_IMAGE_PIXELS", default=40_000_000)
TWEEZERS_MAX_TEXT_CHARS = env.int("TWEEZERS_MAX_TEXT_CHARS", default=100_000)
# Seconds an embedding message works before handing over to a fresh one.
TWEEZERS_EMBEDDING_SLICE_SECONDS = env.float("TWEEZERS_EMBEDDING_SLICE_SECONDS", default=120.0)
TWEEZERS_IMAGE_BACKBONE_WEIGHTS = env.str("TWEEZERS_IMAGE_BACKBONE_WEIGHTS", default="")
# A team's own image encoder exported to ONNX (the onnx_encoder representation). Empty: none.
TWEEZERS_IMAGE_ENCODER_ONNX = env.str("TWEEZERS_IMAGE_ENCODER_ONNX", default="")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    # A refused request (403, 404) is one log line, not a traceback: it is the user's mistake
    # or a probe, and the page already says why. 5xx keep their traceback.
    "filters": {"refusal_without_traceback": {"()": "labeler.log_filters.RefusalWithoutTraceback"}},
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"django.request": {"filters": ["refusal_without_traceback"]}},
    "root": {"handlers": ["console"], "level": env.str("DJANGO_LOG_LEVEL", default="INFO")},
}
