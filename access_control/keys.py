"""Device API keys.

A key is ``<prefix>.<secret>``: an 8-character public prefix (shown in the admin and the
logs, so staff can tell keys apart) and 256 random bits.  Only the prefix and the
SHA-256 of the whole key are stored; a high-entropy key needs no slow hash.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from django.conf import settings

PREFIX_LENGTH = 8


@dataclass(frozen=True)
class DeviceKey:
    plain: str
    prefix: str
    hash: str


def key_hash(plain: str) -> str:
    return hashlib.sha256(plain.encode()).hexdigest()


def _from_bytes(raw: bytes) -> DeviceKey:
    prefix = base64.b32encode(raw[:5]).decode().lower()[:PREFIX_LENGTH]
    secret = base64.urlsafe_b64encode(raw[5:37]).decode().rstrip("=")
    plain = f"{prefix}.{secret}"
    return DeviceKey(plain=plain, prefix=prefix, hash=key_hash(plain))


def generate_key() -> DeviceKey:
    return _from_bytes(secrets.token_bytes(37))


def demo_key(device_name: str) -> DeviceKey:
    """A key derived from ``SECRET_KEY`` and the device name, for the demo only.

    Reseeding reproduces the same keys without storing them; anyone who knows the
    secret key and a device name can compute its key, so never use this outside the demo.
    """
    secret = settings.SECRET_KEY.encode()
    first = hmac.new(secret, f"access_control.demo-device:{device_name}".encode(), "sha256")
    second = hmac.new(secret, f"access_control.demo-device+:{device_name}".encode(), "sha256")
    return _from_bytes(first.digest() + second.digest()[:5])
