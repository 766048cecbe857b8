"""Keyed hashes for secrets we must recognise but never keep: recovery codes, API keys.

An HMAC-SHA256 under the project's ``SECRET_KEY`` (and a purpose, so a digest made for one
use is worthless for another).  The secrets are random and long, so a fast hash suffices
to look one up by equality; the key means a copy of the database alone can't be used to
test guesses offline.  Rotating ``SECRET_KEY`` (keeping the old one in
``SECRET_KEY_FALLBACKS``) does not invalidate them: ``digests`` lists every key's digest.
"""

from __future__ import annotations

from django.conf import settings
from django.utils.crypto import salted_hmac


def keyed_digest(purpose: str, secret: str, *, key: str | None = None) -> str:
    """The hex digest under which ``secret`` is stored for ``purpose``."""
    return salted_hmac(
        f"gym.{purpose}", secret, secret=key or settings.SECRET_KEY, algorithm="sha256"
    ).hexdigest()


def digests(purpose: str, secret: str) -> list[str]:
    """The digests ``secret`` may be stored under: the current key's first, then the
    fallbacks' (for a key being rotated)."""
    keys = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
    return [keyed_digest(purpose, secret, key=key) for key in keys]
