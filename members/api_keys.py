"""API keys for integrations: scopes, issuing, revoking, and recognising a key.

A key reads ``gym_<prefix>.<secret>``: the prefix (public, shown in the admin) tells keys
apart; the secret is 256 random bits.  Only the keyed hash of the whole key is kept
(``config.keyed_hash``), so the key is shown once, when it is made.

Scopes are data (``SCOPES``): ``<area>:read`` grants the area's ``view_`` permissions,
``<area>:write`` all of its permissions; ``access:devices`` only the devices'.  A key's
own staff account has no role group: the ``ScopeBackend`` grants it exactly what its
scopes name, and only while a request authenticated by the key is being served.
"""

from __future__ import annotations

import base64
import datetime as dt
import secrets
from dataclasses import dataclass
from typing import Any, ClassVar

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import BaseBackend
from django.db import transaction
from django.utils.translation import gettext_lazy as _

from config import clock
from config.errors import DomainError
from config.keyed_hash import digests, keyed_digest

from .audit import audit_record
from .models import ApiKey

PURPOSE = "api-key"
KEY_START = "gym_"
PREFIX_LENGTH = 10
# Writing the last-used time on every request would make each call a write: once in
# this long is enough to tell a live integration from a dead one.
LAST_USED_EVERY = dt.timedelta(minutes=5)
LONGEST_LIFE = dt.timedelta(days=730)


@dataclass(frozen=True)
class Scope:
    area: Any
    app_labels: tuple[str, ...]
    write: bool
    models: tuple[str, ...] = ()
    own_label: Any = None

    @property
    def label(self) -> str:
        """In the language of the request reading it."""
        if self.own_label is not None:
            return str(self.own_label)
        template = _("%(area)s: read and change") if self.write else _("%(area)s: read")
        return str(template) % {"area": self.area}


def _area(app: str, name: Any) -> dict[str, Scope]:
    return {
        f"{name[0]}:read": Scope(name[1], (app,), write=False),
        f"{name[0]}:write": Scope(name[1], (app,), write=True),
    }


SCOPES: dict[str, Scope] = {
    **_area("members", ("members", _("Members"))),
    **_area("billing", ("billing", _("Billing"))),
    **_area("access_control", ("access", _("Access control"))),
    "access:devices": Scope(
        _("Access control"),
        ("access_control",),
        write=True,
        models=("device",),
        own_label=_("Access control: manage devices"),
    ),
    **_area("classes", ("classes", _("Classes"))),
    **_area("pos", ("pos", _("Point of sale"))),
    **_area("dunning", ("dunning", _("Dunning"))),
}


def scope_choices() -> list[tuple[str, Any]]:
    return [(name, scope.label) for name, scope in SCOPES.items()]


def scopes_allow(scopes: Any, perm: str) -> bool:
    """Whether keys with ``scopes`` hold the permission ``perm`` (``app.codename``)."""
    app_label, _dot, codename = perm.partition(".")
    action, _sep, model = codename.partition("_")
    if codename.endswith("_reports"):
        return False  # owners' reports are never an integration's
    for name in scopes:
        scope = SCOPES.get(name)
        if scope is None or app_label not in scope.app_labels:
            continue
        if scope.models and model not in scope.models:
            continue
        if scope.write or action == "view":
            return True
    return False


class ScopeBackend(BaseBackend):
    """Permissions of a key's staff account: its scopes, during a request made with it."""

    def has_perm(self, user_obj: Any, perm: str, obj: Any = None) -> bool:
        scopes = getattr(user_obj, "api_key_scopes", None)
        return scopes is not None and user_obj.is_active and scopes_allow(scopes, perm)


class ApiKeyRefused(DomainError):
    """A request's key is not one we take; ``reason`` is the API's error code."""

    code = "api_key_refused"
    status = 401
    reason_messages: ClassVar[dict[str, Any]] = {
        "api_key_invalid": _("The API key is not valid."),
        "api_key_revoked": _("This API key was revoked."),
        "api_key_expired": _("This API key has expired."),
    }


class ApiKeyNotValid(DomainError):
    code = "invalid"
    status = 400
    reason_messages: ClassVar[dict[str, Any]] = {
        "invalid_scopes": _("Choose at least one scope from the list."),
        "invalid_expiry": _("A key expires in the future, within two years at most."),
    }


def _new_key() -> tuple[str, str]:
    prefix = base64.b32encode(secrets.token_bytes(10)).decode().lower()[:PREFIX_LENGTH]
    return prefix, f"{KEY_START}{prefix}.{secrets.token_urlsafe(32)}"


@transaction.atomic
def api_key_create(
    *, name: str, scopes: list[str], expires_at: dt.datetime, created_by: Any, rate: int = 600
) -> tuple[ApiKey, str]:
    """A new key and its plain text, which the caller shows once and forgets."""
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown or not scopes:
        raise ApiKeyNotValid(reason="invalid_scopes")
    now = clock.now()
    if not now < expires_at <= now + LONGEST_LIFE:
        raise ApiKeyNotValid(reason="invalid_expiry")
    prefix, plain = _new_key()
    user = get_user_model().objects.create(
        username=f"api-key-{prefix}", first_name=name[:150], is_staff=True, is_active=True
    )
    user.set_unusable_password()
    user.save(update_fields=["password"])
    key = ApiKey(
        name=name,
        prefix=prefix,
        digest=keyed_digest(PURPOSE, plain),
        scopes=sorted(set(scopes)),
        user=user,
        rate_per_minute=rate,
        created_by=created_by,
        created_at=now,
        expires_at=expires_at,
    )
    key.full_clean()
    key.save()
    audit_record(
        "api_key.create",
        key,
        after={"name": name, "scopes": key.scopes, "expires_at": expires_at, "rate": rate},
        actor=created_by,
    )
    return key, plain


@transaction.atomic
def api_key_revoke(key: ApiKey, *, actor: Any) -> bool:
    """Revoke ``key`` now; ``False`` if it already was."""
    locked = ApiKey.objects.select_for_update().get(pk=key.pk)
    if locked.revoked_at is not None:
        return False
    locked.revoked_at = clock.now()
    locked.revoked_by = actor
    locked.save(update_fields=["revoked_at", "revoked_by"])
    audit_record(
        "api_key.revoke",
        locked,
        before={"revoked_at": None},
        after={"revoked_at": locked.revoked_at},
        actor=actor,
    )
    get_user_model().objects.filter(pk=locked.user_id).update(is_active=False)
    key.revoked_at, key.revoked_by = locked.revoked_at, actor
    return True


def api_key_authenticate(plain: str) -> ApiKey:
    """The live key ``plain`` names, its account ready to act with its scopes; raises
    ``ApiKeyRefused`` (``api_key_invalid``, ``api_key_expired``, ``api_key_revoked``)."""
    if not plain.startswith(KEY_START) or len(plain) > 200 or not plain.isascii():
        raise ApiKeyRefused(reason="api_key_invalid")
    key = ApiKey.objects.select_related("user").filter(digest__in=digests(PURPOSE, plain)).first()
    if key is None:
        raise ApiKeyRefused(reason="api_key_invalid")
    now = clock.now()
    if key.revoked_at is not None:
        raise ApiKeyRefused(reason="api_key_revoked")
    if key.expires_at <= now:
        raise ApiKeyRefused(reason="api_key_expired")
    if key.last_used_at is None or key.last_used_at < now - LAST_USED_EVERY:
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
        key.last_used_at = now
    key.user.api_key_scopes = frozenset(key.scopes)  # type: ignore[attr-defined]
    return key
