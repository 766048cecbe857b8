"""Finding credentials from what staff type: a card number in any form a reader prints.

A typed term is read every way it may name a stored credential: an RFID UID in hex
(with or without ``:``, ``-`` or spaces), a Wiegand-26 (``facility:card`` or decimal) or
Wiegand-34 decimal, a barcode exactly as printed, a QR pass id, or the text a QR pass
shows.  Lost and revoked credentials match too: the desk wants to know whose card it was.
"""

from __future__ import annotations

import contextlib

from django.db.models import Q, QuerySet

from config import clock

from ..credentials import (
    CredentialValueError,
    normalize_barcode,
    normalize_credential,
    normalize_hex_uid,
    qr_parse,
    wiegand26_to_uid,
    wiegand34_to_uid,
)
from ..models import Credential, CredentialKind

MAX_TERM_LENGTH = 128


def credential_readings(term: str) -> set[tuple[str, str]]:
    """Every ``(kind, stored value)`` the typed ``term`` may stand for."""
    text = term.strip()
    if not text or len(text) > MAX_TERM_LENGTH:
        return set()
    readings: set[tuple[str, str]] = set()
    for convert in (normalize_hex_uid, wiegand34_to_uid, wiegand26_to_uid):
        with contextlib.suppress(CredentialValueError):
            readings.add((CredentialKind.RFID.value, convert(text)))
    with contextlib.suppress(CredentialValueError):
        readings.add((CredentialKind.BARCODE.value, normalize_barcode(text)))
    with contextlib.suppress(CredentialValueError):
        readings.add((CredentialKind.QR.value, normalize_credential(CredentialKind.QR, text)))
    shown = qr_parse(text, clock.now())
    if shown is not None:
        readings.add((CredentialKind.QR.value, shown.public_id))
    return readings


def credentials_matching(term: str) -> QuerySet[Credential] | None:
    """The credentials ``term`` names, whatever their status (``None``: it names none)."""
    readings = credential_readings(term)
    if not readings:
        return None
    condition = Q(pk__in=[])
    for kind, value in sorted(readings):
        condition |= Q(kind=kind, value=value)
    return Credential.objects.filter(condition)


def card_search_terms(term: str) -> Q | None:
    """``members.hooks.member_search_terms``: members holding a credential ``term`` names."""
    credentials = credentials_matching(term)
    if credentials is None:
        return None
    return Q(pk__in=credentials.values("member_id"))
