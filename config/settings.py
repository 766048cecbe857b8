"""Settings for the gym platform, read from the environment.

Without ``DATABASE_URL`` the project runs as the demo: a SQLite file, Celery tasks
executed eagerly, DEBUG on.  Production and the test suite set ``DATABASE_URL``
(PostgreSQL) and ``REDIS_URL``.
"""

from pathlib import Path

import environ
from csp.constants import NONCE, NONE, SELF
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEMO_MODE = not env.str("DATABASE_URL", default="")
DEBUG = env.bool("DEBUG", default=DEMO_MODE)

_DEMO_SECRET = "demo-insecure-key-only-for-the-sqlite-demo-and-never-for-production"
SECRET_KEY = env.str("SECRET_KEY", default=_DEMO_SECRET if (DEBUG or DEMO_MODE) else "")
if not SECRET_KEY:
    raise environ.ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "config.apps.GymAdminConfig",  # django.contrib.admin with the project's site
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "anymail",
    "csp",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "allauth",
    "allauth.account",
    "members",
    "billing",
    "access_control",
    "classes",
    "dunning",
    "pos",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "config.middleware.MemberPagesCSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "config.middleware.GymTimeZoneMiddleware",
    "django.middleware.common.CommonMiddleware",
    "config.middleware.ApiQueryMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "config.middleware.AuditContextMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "config.middleware.StaffLanguageMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: it turns a locked-out sign-in into the lockout answer.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        # config/templates: the pages config assembles (the owner's reports); its
        # strings are in config's catalogue.
        "DIRS": [BASE_DIR / "templates", BASE_DIR / "config" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
            "libraries": {"gym_dates": "config.templatetags.gym_dates"},
        },
    },
]

# --- Database -------------------------------------------------------------------------
if DEMO_MODE:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": env.str("SQLITE_PATH", default=str(BASE_DIR / "demo.sqlite3")),
            "OPTIONS": {"timeout": 20},
        }
    }
else:
    DATABASES = {"default": env.db("DATABASE_URL")}
    DATABASES["default"].setdefault("OPTIONS", {})
    DATABASES["default"]["OPTIONS"].setdefault("connect_timeout", 3)
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True

# Hot statements (the gate's read) run prepared: see ``config.db.prepared_cursor``.  They
# are planned once, generically: a custom plan per execution costs more than running them.
# Only prepared statements are affected; Django's own queries bind client-side.
DB_PREPARED_STATEMENTS = env.bool("DB_PREPARED_STATEMENTS", default=True)
if DB_PREPARED_STATEMENTS and not DEMO_MODE:
    # psycopg prepares nothing while this is None (Django's default); its client-side
    # cursors, which Django uses everywhere else, never prepare whatever the value.
    DATABASES["default"]["OPTIONS"].setdefault("prepare_threshold", 5)
    # Appended to any server options DATABASE_URL already sets.  Behind PgBouncer, list
    # "options" in its ignore_startup_parameters, or set DB_PREPARED_STATEMENTS=0.
    _server_options = DATABASES["default"]["OPTIONS"].get("options", "")
    if "plan_cache_mode" not in _server_options:
        DATABASES["default"]["OPTIONS"]["options"] = (
            f"{_server_options} -c plan_cache_mode=force_generic_plan".strip()
        )

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis, cache and Celery ------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "config.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", default="gym"),
            "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
        }
    }
    # Sessions are read from Redis and kept in the database too (a cache miss, a flushed
    # or lost Redis, reads the database): a signed-in request asks PostgreSQL nothing
    # for its session.
    SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = REDIS_URL or None
CELERY_RESULT_EXPIRES = 3600
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=not REDIS_URL)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
# Messages have their own queue, so a burst of receipts never delays the billing run.
CELERY_TASK_ROUTES = {"billing.tasks.send_receipts": {"queue": "notifications"}}
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True

# --- Billing ---------------------------------------------------------------------------
PAYMENT_GATEWAY = env.str("PAYMENT_GATEWAY", default="sandbox")
STRIPE_SECRET_KEY = env.str("STRIPE_SECRET_KEY", default="")
STRIPE_WEBHOOK_SECRET = env.str("STRIPE_WEBHOOK_SECRET", default="")
STRIPE_PUBLISHABLE_KEY = env.str("STRIPE_PUBLISHABLE_KEY", default="")
SANDBOX_WEBHOOK_SECRET = env.str("SANDBOX_WEBHOOK_SECRET", default="sandbox-webhook-secret")
SANDBOX_GATEWAY_LATENCY_MS = env.int("SANDBOX_GATEWAY_LATENCY_MS", default=0)
BILLING_BATCH_SIZE = env.int("BILLING_BATCH_SIZE", default=500)
# Gateway calls in flight at once per batch (charges are I/O bound).
BILLING_CHARGE_CONCURRENCY = env.int("BILLING_CHARGE_CONCURRENCY", default=32)
# PromptPay (see docs/promptpay.md): "gateway" (the payment gateway's PromptPay, matched
# automatically), "own_id" (a QR to the gym's own PromptPay ID; staff confirm transfers),
# "off", or "auto": own_id when PROMPTPAY_ID is set, else the gateway's.
PROMPTPAY_ROUTE = env.str("PROMPTPAY_ROUTE", default="auto")
PROMPTPAY_ID = env.str("PROMPTPAY_ID", default="")  # a mobile, 13-digit tax ID or e-wallet ID
PROMPTPAY_EXPIRY_MINUTES = env.int("PROMPTPAY_EXPIRY_MINUTES", default=15)

# --- Access control ---
# A device's last_seen is written at most this often; its cached record lives this long
# (every change to a device, zone or location invalidates it at once anyway).
ACCESS_DEVICE_SEEN_INTERVAL_SECONDS = env.int("ACCESS_DEVICE_SEEN_INTERVAL_SECONDS", default=60)
ACCESS_DEVICE_CACHE_SECONDS = env.int("ACCESS_DEVICE_CACHE_SECONDS", default=86400)
# The member QR pass changes every step; a code is accepted this many steps either side.
ACCESS_QR_STEP_SECONDS = env.int("ACCESS_QR_STEP_SECONDS", default=30)
ACCESS_QR_SKEW_STEPS = env.int("ACCESS_QR_SKEW_STEPS", default=1)
ACCESS_CARD_EXPIRY_WARNING_DAYS = env.int("ACCESS_CARD_EXPIRY_WARNING_DAYS", default=30)
ACCESS_MEMBERSHIP_ENDING_WARNING_DAYS = env.int("ACCESS_MEMBERSHIP_ENDING_WARNING_DAYS", default=7)
# Occupancy forgets an entry without an exit after this long.
ACCESS_OCCUPANCY_MAX_STAY_MINUTES = env.int("ACCESS_OCCUPANCY_MAX_STAY_MINUTES", default=240)
# Allowlist deltas re-read this much recent history (longer than any transaction lasts);
# an older cursor gets the full list again.
ACCESS_ALLOWLIST_OVERLAP_SECONDS = env.int("ACCESS_ALLOWLIST_OVERLAP_SECONDS", default=120)
ACCESS_ALLOWLIST_MAX_DELTA_HOURS = env.int("ACCESS_ALLOWLIST_MAX_DELTA_HOURS", default=24)
# Offline uploads: events per batch, and how old or how far ahead of the server they may be.
ACCESS_EVENTS_MAX_BATCH = env.int("ACCESS_EVENTS_MAX_BATCH", default=500)
ACCESS_OFFLINE_MAX_AGE_DAYS = env.int("ACCESS_OFFLINE_MAX_AGE_DAYS", default=30)
ACCESS_OFFLINE_MAX_CLOCK_SKEW_SECONDS = env.int(
    "ACCESS_OFFLINE_MAX_CLOCK_SKEW_SECONDS", default=300
)

# --- Auth -----------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "admin:login"
# django-axes checks every sign-in first (admin form and API Basic auth alike).
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    # Staff permissions in one statement (config.permissions_backend); authenticates nobody.
    "config.permissions_backend.OneQueryPermissions",
    "django.contrib.auth.backends.ModelBackend",
    # Members sign in to the portal by email (django-allauth); it never admits staff.
    "members.portal.auth.MemberAuthenticationBackend",
    # An integration's API key holds exactly its scopes (members.api_keys).
    "members.api_keys.ScopeBackend",
]

# Lockouts (django-axes), kept in the real cache (Redis): after AXES_FAILURE_LIMIT wrong
# passwords, that account is locked, and so, separately, is that address.
AXES_HANDLER = "axes.handlers.cache.AxesCacheHandler"
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = env.float("AXES_COOLOFF_HOURS", default=0.25)  # hours
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "config.staff_auth.lockout_response"
AXES_IPWARE_PROXY_COUNT = env.int("AXES_IPWARE_PROXY_COUNT", default=0)
AXES_VERBOSE = False
# The portal's member sign-in has allauth's own rate limits (below), not these lockouts.
AXES_WHITELIST_CALLABLE = "config.staff_auth.is_member_sign_in"

# Two-factor sign-in (django-otp, TOTP with one-time recovery codes).  Managers and owners
# always need it; the front desk when this is on.
STAFF_2FA_FRONT_DESK = env.bool("STAFF_2FA_FRONT_DESK", default=False)
OTP_TOTP_ISSUER = env.str("OTP_TOTP_ISSUER", default="Gym platform")
STAFF_RECOVERY_CODES = 10

# Member sign-in (django-allauth), under /portal/account/ (see docs/portal.md).  Members
# sign in by email, with a password or a one-time code sent by email; no public sign-up
# (a login comes with joining online, or by the desk's "send portal invite").
ACCOUNT_ADAPTER = "members.portal.auth.PortalAccountAdapter"
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_CHANGE_EMAIL = True
ACCOUNT_LOGIN_BY_CODE_ENABLED = True
ACCOUNT_LOGIN_ON_PASSWORD_RESET = False
ACCOUNT_LOGOUT_ON_GET = False
ACCOUNT_SESSION_REMEMBER = None  # the member chooses ("Remember me")
ACCOUNT_PREVENT_ENUMERATION = True
ACCOUNT_EMAIL_SUBJECT_PREFIX = ""
ACCOUNT_DEFAULT_HTTP_PROTOCOL = "http" if DEBUG else "https"
# Rate limits live in the default cache (Redis): wrong passwords lock the address out
# after MEMBER_LOGIN_ATTEMPTS within MEMBER_LOGIN_ATTEMPTS_MINUTES, for that email (and
# 10 a minute from one address, whatever the email).
MEMBER_LOGIN_ATTEMPTS = env.int("MEMBER_LOGIN_ATTEMPTS", default=5)
MEMBER_LOGIN_ATTEMPTS_MINUTES = env.int("MEMBER_LOGIN_ATTEMPTS_MINUTES", default=5)
ACCOUNT_RATE_LIMITS = {
    "login_failed": f"10/m/ip,{MEMBER_LOGIN_ATTEMPTS}/{MEMBER_LOGIN_ATTEMPTS_MINUTES * 60}s/key",
}
LOGIN_REDIRECT_URL = "portal:home"
ACCOUNT_LOGOUT_REDIRECT_URL = "account_login"
# How long the desk's "send portal invite" link opens the set-a-password page.
PORTAL_INVITE_MAX_AGE_DAYS = env.int("PORTAL_INVITE_MAX_AGE_DAYS", default=7)
PORTAL_PUBLIC_BASE_URL = env.str("PORTAL_PUBLIC_BASE_URL", default="http://127.0.0.1:8000")

# --- Internationalisation and the gym's locale ----------------------------------------
LANGUAGE_CODE = env.str("LANGUAGE_CODE", default="en")
LANGUAGES = [("en", _("English")), ("th", _("Thai"))]
LOCALE_PATHS = [BASE_DIR / "config" / "locale"]
USE_I18N = True
USE_TZ = True
TIME_ZONE = "UTC"
# The gym's own time zone: billing dates and quiet hours are local dates and times here,
# and the admin shows and reads times in it (config.middleware); UTC everywhere else.
GYM_TIME_ZONE = env.str("GYM_TIME_ZONE", default="Asia/Bangkok")
GYM_CURRENCY = env.str("GYM_CURRENCY", default="THB")
GYM_PHONE_REGION = env.str("GYM_PHONE_REGION", default="TH")
# The till: discounts above this share of a sale (basis points; 1000 = 10%) need a manager;
# general items carry this VAT rate; the seller's branch on tax invoices ("สำนักงานใหญ่" for
# the head office, or a 5-digit branch number).
POS_DISCOUNT_MANAGER_PERCENT_BP = env.int("POS_DISCOUNT_MANAGER_PERCENT_BP", default=1000)
POS_GENERAL_TAX_RATE_BP = env.int("POS_GENERAL_TAX_RATE_BP", default=700)
POS_SELLER_BRANCH = env.str("POS_SELLER_BRANCH", default="สำนักงานใหญ่")
# PDF tax invoices are set in Loma (fonts-thai-tlwg, Debian's package) from this folder.
BILLING_PDF_FONT_DIR = env.str("BILLING_PDF_FONT_DIR", default="/usr/share/fonts/truetype/tlwg")
# Dates written in Thai show the Buddhist year (2569 for 2026), in the admin, the emails,
# the SMS and the member's pages alike (config.dates).  Off: the Western year everywhere.
THAI_BUDDHIST_YEAR = env.bool("THAI_BUDDHIST_YEAR", default=True)
# Below this age a member needs a guardian.  Thailand's age of majority is 20.
MEMBERS_ADULT_AGE = env.int("MEMBERS_ADULT_AGE", default=20)
# Personal data (docs/privacy.md): how long a member's download link works, and how long
# invoices and tax documents are kept unchanged after an erasure (Revenue Code: 5 years).
PRIVACY_EXPORT_LINK_HOURS = env.int("PRIVACY_EXPORT_LINK_HOURS", default=24)
PRIVACY_TAX_RETENTION_YEARS = env.int("PRIVACY_TAX_RETENTION_YEARS", default=5)

# --- Static and media -----------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = env.str("STATIC_ROOT", default=str(BASE_DIR / "staticfiles"))
# The admin's own files and the front-end libraries we serve ourselves (never a CDN).
STATICFILES_DIRS = [BASE_DIR / "config" / "static"]
MEDIA_URL = "media/"
MEDIA_ROOT = env.str("MEDIA_ROOT", default=str(BASE_DIR / "media"))

# --- Email ----------------------------------------------------------------------------
EMAIL_BACKEND = env.str(
    "EMAIL_BACKEND",
    default="django.core.mail.backends.console.EmailBackend"
    if DEMO_MODE
    else "anymail.backends.console.EmailBackend",
)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Demo Gym <billing@example.com>")
ANYMAIL = {
    key: value
    for key, value in {
        "MAILGUN_API_KEY": env.str("MAILGUN_API_KEY", default=""),
        "MAILGUN_SENDER_DOMAIN": env.str("MAILGUN_SENDER_DOMAIN", default=""),
        "POSTMARK_SERVER_TOKEN": env.str("POSTMARK_SERVER_TOKEN", default=""),
        "SENDGRID_API_KEY": env.str("SENDGRID_API_KEY", default=""),
        "WEBHOOK_SECRET": env.str("ANYMAIL_WEBHOOK_SECRET", default=""),
    }.items()
    if value
}

# --- REST API -------------------------------------------------------------------------
# HTTP Basic with a staff password: on for the demo and tests, off in production unless
# this says so (integrations use API keys).
API_BASIC_AUTH = env.bool("API_BASIC_AUTH", default=DEBUG or DEMO_MODE)
REST_FRAMEWORK = {
    # Basic first: its challenge makes a request without credentials a 401 (with
    # WWW-Authenticate), not a 403; a request without an Authorization header still
    # falls through to the session.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "config.api.authentication.BasicAuthentication",
        "config.api.authentication.ApiKeyAuthentication",
        "config.staff_auth.SessionAuthentication",
    ],
    "DEFAULT_THROTTLE_CLASSES": ["config.api.authentication.ApiKeyThrottle"],
    "DEFAULT_PERMISSION_CLASSES": ["config.api.permissions.RolePermissions"],
    "DEFAULT_PARSER_CLASSES": [
        "config.api.parsers.JSONParser",
        "config.api.parsers.FormParser",
        "config.api.parsers.MultiPartParser",
    ],
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.SearchFilter",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "config.api.errors.exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Gym platform API",
    "DESCRIPTION": "Staff and integration API, and the access API for readers and turnstiles.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI and Redoc come from our own static files (drf-spectacular-sidecar), never
    # a CDN: a gym's desk may have no internet.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    # Redoc from the sidecar too, through config.api.views.redoc_bundle (no CDN logo).
    "REDOC_DIST": "/api/redoc",
    # Every operation documents its 400/401/403/404 answers (config.api.schema).
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "config.api.schema.add_error_responses",
    ],
}

# --- Dunning ---
# Quiet hours, in the gym's local time: no message goes out between START and END; one
# due inside the window waits for its end.  Collection laws limit contact times.
DUNNING_QUIET_HOURS_START = env.str("DUNNING_QUIET_HOURS_START", default="21:00")
DUNNING_QUIET_HOURS_END = env.str("DUNNING_QUIET_HOURS_END", default="08:00")
# Day-based retries (paydays, widening intervals) run at this local time.
DUNNING_RETRY_LOCAL_TIME = env.str("DUNNING_RETRY_LOCAL_TIME", default="10:00")
# Card-network reattempt caps per card credential.  Visa's newer rules allow 20.
DUNNING_VISA_REATTEMPTS_30D = env.int("DUNNING_VISA_REATTEMPTS_30D", default=15)
DUNNING_MASTERCARD_REATTEMPTS_24H = env.int("DUNNING_MASTERCARD_REATTEMPTS_24H", default=10)
DUNNING_MASTERCARD_REATTEMPTS_30D = env.int("DUNNING_MASTERCARD_REATTEMPTS_30D", default=35)
# "Update your card and pay" links: how long they open the hosted page, and its address.
DUNNING_LINK_MAX_AGE_DAYS = env.int("DUNNING_LINK_MAX_AGE_DAYS", default=14)
DUNNING_PUBLIC_BASE_URL = env.str("DUNNING_PUBLIC_BASE_URL", default="http://127.0.0.1:8000")
DUNNING_MAX_PROMISE_DAYS = env.int("DUNNING_MAX_PROMISE_DAYS", default=30)
DUNNING_BATCH_SIZE = env.int("DUNNING_BATCH_SIZE", default=200)
# Batches one run advances at once, each in its own thread and database connection.
DUNNING_RUN_WORKERS = env.int("DUNNING_RUN_WORKERS", default=2)
# Chunks of messages one delivery task sends at once, each in its own thread and connection
# (more than 1 pays off when the provider is slow to answer; see docs/dunning.md).
DUNNING_DELIVERY_WORKERS = env.int("DUNNING_DELIVERY_WORKERS", default=1)
# SMS, for every app (billing.messaging.sms): ...console.ConsoleSmsBackend (demo),
# ...locmem.LocmemSmsBackend (tests), ...sandbox.SandboxSmsBackend (a provider that can be
# asked) or ...twilio.TwilioSmsBackend with the TWILIO_* settings below.  The older
# DUNNING_SMS_BACKEND variable is still read as the default.
SMS_BACKEND = env.str(
    "SMS_BACKEND",
    default=env.str(
        "DUNNING_SMS_BACKEND", default="billing.messaging.sms.console.ConsoleSmsBackend"
    ),
)
DUNNING_SMS_BACKEND = env.str("DUNNING_SMS_BACKEND", default=SMS_BACKEND)
TWILIO_ACCOUNT_SID = env.str("TWILIO_ACCOUNT_SID", default="")
TWILIO_AUTH_TOKEN = env.str("TWILIO_AUTH_TOKEN", default="")
TWILIO_FROM_NUMBER = env.str("TWILIO_FROM_NUMBER", default="")
TWILIO_MESSAGING_SERVICE_SID = env.str("TWILIO_MESSAGING_SERVICE_SID", default="")
CELERY_TASK_ROUTES["dunning.tasks.deliver_messages"] = {"queue": "notifications"}
# The API schema names dunning's enums itself (several models have a "status").  Another
# app needing overrides adds its own dict to this one.
DUNNING_ENUM_NAME_OVERRIDES = {
    "DunningCaseStatusEnum": "dunning.models.CaseStatus",
    "DunningRetryStatusEnum": "dunning.models.RetryStatus",
    "DunningRetryReasonEnum": "dunning.models.RetryReason",
    "DunningMessageStatusEnum": "dunning.models.MessageStatus",
    "DunningPlanStatusEnum": "dunning.models.PlanStatus",
}
POS_ENUM_NAME_OVERRIDES = {
    "PosLineKindEnum": "pos.models.LineKind",
    "PosSoldLineKindEnum": "pos.api.serializers.SOLD_LINE_KINDS",
    "PosTenderKindEnum": "pos.models.TenderKind",
    "PosSaleKindEnum": "pos.models.SaleKind",
}
SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"] = {
    **DUNNING_ENUM_NAME_OVERRIDES,
    **POS_ENUM_NAME_OVERRIDES,
}

# --- Security -------------------------------------------------------------------------
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
# Our own pages' forms post to our own origin: "same-origin" keeps the Referer Django's
# CSRF check reads on HTTPS, and tells no other site which page (or pay link) sent a visitor.
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
if not DEBUG:
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)
# /healthz is polled by load balancers over plain HTTP.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]

# Content Security Policy (django-csp) on the pages members open: the pay page, the
# portal, online join and the sandbox bank.  Inline scripts and styles carry the request's
# nonce; the card form is Stripe's own (its script, frames and API) only when Stripe is the
# gateway.
CSP_MEMBER_PAGE_PREFIXES = ["/pay/", "/sandbox-bank/", "/portal/", "/join/"]
_stripe_sources = ["https://js.stripe.com"] if PAYMENT_GATEWAY == "stripe" else []
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE, *_stripe_sources],
        "style-src": [SELF, NONCE],
        "img-src": [SELF, "data:"],
        "connect-src": [SELF, *(["https://api.stripe.com"] if _stripe_sources else [])],
        "frame-src": [*_stripe_sources, *(["https://hooks.stripe.com"] if _stripe_sources else [])]
        or [NONE],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
        "base-uri": [NONE],
        "object-src": [NONE],
    }
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # The PDF library narrates every step of every document at INFO.
        "weasyprint": {"level": "WARNING"},
        "fontTools": {"level": "WARNING"},
    },
}

# --- Classes ----------------------------------------------------------------------------
# Overlapping bookings by one member: refused unless switched on.
CLASSES_ALLOW_OVERLAP = env.bool("CLASSES_ALLOW_OVERLAP", default=False)
# Late-cancel and no-show fees wait this long for staff to waive them, then are posted.
CLASSES_FEE_WAIVE_HOURS = env.int("CLASSES_FEE_WAIVE_HOURS", default=24)
# A gate grant marks a booked member attended from this long before the start to the end.
CLASSES_CHECK_IN_MINUTES_BEFORE = env.int("CLASSES_CHECK_IN_MINUTES_BEFORE", default=30)
# Attendance closes (booked members not checked in become no-shows) this long after the end.
CLASSES_ATTENDANCE_CLOSES_MINUTES = env.int("CLASSES_ATTENDANCE_CLOSES_MINUTES", default=60)
# This many no-shows within the days below suspend booking for CLASSES_STRIKE_SUSPEND_DAYS.
# 0: never.
CLASSES_NO_SHOW_STRIKES = env.int("CLASSES_NO_SHOW_STRIKES", default=3)
CLASSES_STRIKE_WINDOW_DAYS = env.int("CLASSES_STRIKE_WINDOW_DAYS", default=30)
CLASSES_STRIKE_SUSPEND_DAYS = env.int("CLASSES_STRIKE_SUSPEND_DAYS", default=7)
# Reminders go this many hours before class, never within the quiet hours.
CLASSES_REMINDER_HOURS = env.int("CLASSES_REMINDER_HOURS", default=12)
CLASSES_QUIET_HOURS_START = env.str("CLASSES_QUIET_HOURS_START", default="21:00")
CLASSES_QUIET_HOURS_END = env.str("CLASSES_QUIET_HOURS_END", default="08:00")
# Sessions are generated from weekly schedules this many weeks ahead.
CLASSES_WEEKS_AHEAD = env.int("CLASSES_WEEKS_AHEAD", default=4)
CLASSES_PUBLIC_BASE_URL = env.str("CLASSES_PUBLIC_BASE_URL", default="http://127.0.0.1:8000")

# --- Online join and leads (members.leads) ---------------------------------------------
# Where a lead's follow-up emails send them to finish joining, and the address of the
# links in them (a gym may point the first at its own website's join page).
JOIN_PUBLIC_BASE_URL = env.str("JOIN_PUBLIC_BASE_URL", default="http://127.0.0.1:8000")
JOIN_PUBLIC_URL = env.str("JOIN_PUBLIC_URL", default=f"{JOIN_PUBLIC_BASE_URL}/join/")
# The day of the month online joiners are billed on (1-28): the first period is prorated
# up to it.  0: each member's own start day (nothing prorated).
JOIN_ANCHOR_DAY = env.int("JOIN_ANCHOR_DAY", default=0)

# --- Input bounds (config.inputs) -----------------------------------------------------
# The largest amount any form or endpoint accepts, in minor units (฿1,000,000.00).
INPUT_MAX_AMOUNT = env.int("INPUT_MAX_AMOUNT", default=100_000_000)
# Business dates typed by staff (a start, a freeze, a cancellation) within this window.
INPUT_MAX_DAYS_AHEAD = env.int("INPUT_MAX_DAYS_AHEAD", default=366)
INPUT_MAX_DAYS_BEHIND = env.int("INPUT_MAX_DAYS_BEHIND", default=366)
