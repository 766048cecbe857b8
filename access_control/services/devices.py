"""Devices: creating them, their keys, and recognising them by key on every request.

Authentication reads a device from the cache, keyed by the key's hash.  Every change to
a location, zone, door or device (through these services or the admin) bumps a
configuration generation in the cache, and a cached device from an older generation is
ignored, so a revoked or rotated key is refused at once and zone settings apply at once.
The bump happens immediately and again after the transaction commits, so a request that
read the database before the commit cannot cache the old state under the new generation.
If the cache could not be reached for the bump, the device's next ``last_seen`` write
(at most a minute away) finds the key no longer live and drops the cached device.

``last_seen`` is written at most once per ``ACCESS_DEVICE_SEEN_INTERVAL_SECONDS`` per
device.  Authentication only says when a write is due (``seen_due``); the caller writes
it with :func:`device_seen` when the request can afford the statement.  A request that
had to load the device from the database is never due: it already spent its query.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import transaction

from config import clock
from members.audit import audit_record

from ..engine import ZoneSnapshot
from ..errors import DeviceNotAllowed
from ..keys import DeviceKey, generate_key, key_hash
from ..models import CredentialFormat, Device, DeviceDirection, DeviceKind, Door, Zone
from ..selectors import zone_snapshot

logger = logging.getLogger(__name__)

GENERATION_KEY = "access:config-generation"


@dataclass(frozen=True)
class DeviceIdentity:
    """An authenticated device, as the access API sees it (cached; never a model)."""

    id: int
    name: str
    kind: str
    direction: str
    credential_format: str
    key_prefix: str
    zone: ZoneSnapshot
    seen_due: bool = False  # last_seen is older than the interval
    cache_key: str = ""  # empty: not cached
    key_hash: str = ""

    @property
    def audit_device_label(self) -> str:
        """Who the audit trail names when this device's request changes something."""
        return f"device {self.name} (#{self.id})"


def _device_cache_key(digest: str) -> str:
    return f"access:device:{digest}"


def _cache_get_many(keys: list[str]) -> dict[str, Any]:
    try:
        return cache.get_many(keys)
    except Exception:  # the cache is an optimisation: without it, read the database
        logger.warning("Cache unavailable for device lookup", exc_info=True)
        return {}


def _cache_set(key: str, value: Any) -> None:
    try:
        cache.set(key, value, timeout=int(settings.ACCESS_DEVICE_CACHE_SECONDS))
    except Exception:
        logger.warning("Cache unavailable for device store", exc_info=True)


def _cache_delete(key: str) -> None:
    try:
        cache.delete(key)
    except Exception:
        logger.error("Could not drop a cached device whose key is not live", exc_info=True)


def _bump_generation() -> None:
    try:
        cache.add(GENERATION_KEY, 0, timeout=None)
        cache.incr(GENERATION_KEY)
    except Exception:
        # Without the bump a cached device lives until its timeout: say so loudly.
        logger.error("Could not invalidate cached devices", exc_info=True)


def configuration_changed(**_: Any) -> None:
    """Invalidate every cached device now and again after commit (signal receiver)."""
    _bump_generation()
    transaction.on_commit(_bump_generation)


def _identity(data: dict[str, Any], **extra: Any) -> DeviceIdentity:
    return DeviceIdentity(**{**data, "zone": ZoneSnapshot(**data["zone"]), **extra})


def _identity_data(device: Device) -> dict[str, Any]:
    return {
        "id": device.pk,
        "name": device.name,
        "kind": device.kind,
        "direction": device.direction,
        "credential_format": device.credential_format,
        "key_prefix": device.key_prefix,
        "zone": zone_snapshot(device.zone).as_dict(),
    }


def device_authenticate(plain_key: str) -> DeviceIdentity | None:
    """The device holding ``plain_key``, or ``None`` if no live device does.

    No query when the device is cached; one when it has to be loaded.
    """
    digest = key_hash(plain_key)
    cache_key = _device_cache_key(digest)
    found = _cache_get_many([GENERATION_KEY, cache_key])
    generation, entry = found.get(GENERATION_KEY), found.get(cache_key)
    if entry is not None and entry["generation"] == generation:
        interval = int(settings.ACCESS_DEVICE_SEEN_INTERVAL_SECONDS)
        due = clock.now().timestamp() - entry["seen"] >= interval
        return _identity(entry["device"], seen_due=due, cache_key=cache_key, key_hash=digest)
    device = (
        Device.objects.select_related("zone__location")
        .filter(key_hash=digest, revoked_at__isnull=True)
        .first()
    )
    if device is None:
        return None
    data = _identity_data(device)
    seen = device.last_seen.timestamp() if device.last_seen else 0.0
    _cache_set(cache_key, {"generation": generation, "device": data, "seen": seen})
    return _identity(data, cache_key=cache_key, key_hash=digest)


def device_seen(device: DeviceIdentity, at: dt.datetime | None = None) -> None:
    """Record that the device was heard from now (one query).

    The write also checks that the key is still live: if the device was revoked or its
    key rotated and the cache never heard of it, the cached device is dropped, so the
    next request reads the database and is refused.
    """
    now = at or clock.now()
    live = Device.objects.filter(pk=device.id, revoked_at__isnull=True)
    if device.key_hash:
        live = live.filter(key_hash=device.key_hash)
    if not live.update(last_seen=now):
        logger.warning("Device %s was seen with a key that is no longer live", device.id)
        if device.cache_key:
            _cache_delete(device.cache_key)
        return
    if device.cache_key:
        found = _cache_get_many([device.cache_key]).get(device.cache_key)
        if found is not None:
            _cache_set(device.cache_key, {**found, "seen": now.timestamp()})


# --- Writes ---------------------------------------------------------------------------


def _install_key(device: Device, key: DeviceKey) -> None:
    device.key_prefix, device.key_hash = key.prefix, key.hash
    device.key_created_at = clock.now()


@transaction.atomic
def device_create(
    *,
    zone: Zone,
    name: str,
    kind: str = DeviceKind.READER,
    direction: str = DeviceDirection.IN,
    door: Door | None = None,
    credential_format: str = CredentialFormat.AUTO,
) -> tuple[Device, str]:
    """Register a device; returns it and its API key, which is never shown again."""
    key = generate_key()
    device = Device(
        zone=zone,
        name=name,
        kind=kind,
        direction=direction,
        door=door,
        credential_format=credential_format,
    )
    _install_key(device, key)
    device.full_clean()
    device.save()
    audit_record(
        "device.create",
        device,
        after={
            "zone": zone.pk,
            "name": name,
            "kind": kind,
            "direction": direction,
            "key_prefix": device.key_prefix,
        },
    )
    return device, key.plain


@transaction.atomic
def device_rotate_key(device: Device) -> str:
    """Give the device a new key; the old one stops working at once.  Returns the new key."""
    locked = Device.objects.select_for_update().get(pk=device.pk)
    if locked.revoked_at is not None:
        raise DeviceNotAllowed(reason="revoked")
    before = {"key_prefix": locked.key_prefix, "key_created_at": locked.key_created_at}
    key = generate_key()
    _install_key(locked, key)
    locked.save(update_fields=["key_prefix", "key_hash", "key_created_at"])
    after = {"key_prefix": locked.key_prefix, "key_created_at": locked.key_created_at}
    audit_record("device.rotate_key", locked, before=before, after=after)
    device.key_prefix, device.key_hash = locked.key_prefix, locked.key_hash
    device.key_created_at = locked.key_created_at
    return key.plain


@transaction.atomic
def device_revoke(device: Device) -> Device:
    """Switch the device's key off for good (rotating cannot bring it back).  Idempotent."""
    locked = Device.objects.select_for_update().get(pk=device.pk)
    if locked.revoked_at is None:
        locked.revoked_at = clock.now()
        locked.save(update_fields=["revoked_at"])
        audit_record(
            "device.revoke",
            locked,
            before={"revoked_at": None},
            after={"revoked_at": locked.revoked_at, "key_prefix": locked.key_prefix},
        )
    device.revoked_at = locked.revoked_at
    return locked


@transaction.atomic
def device_install_demo_key(device: Device, key: DeviceKey) -> Device:
    """Set a known key (the demo's derived keys only) and clear any revocation."""
    locked = Device.objects.select_for_update().get(pk=device.pk)
    if locked.key_hash != key.hash or locked.revoked_at is not None:
        _install_key(locked, key)
        locked.revoked_at = None
        locked.save(update_fields=["key_prefix", "key_hash", "key_created_at", "revoked_at"])
    return locked
