"""Finding credentials from what staff type: a card number in any form a reader prints.

A typed term is read every way it may name a stored credential: an RFID UID in hex
(with or without ``:``, ``-`` or spaces), a Wiegand-26 (``facility:card`` or decimal) or
Wiegand-34 decimal, a barcode exactly as printed, a QR pass id, or the text a QR pass
shows.  Lost and revoked credentials match too: the desk wants to know whose card it was.
"""

from __future__ import annotations

import contextlib
from typing import Any
from urllib.parse import urlencode

from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.translation import gettext as _

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


def member_page_tools(request: HttpRequest, member: Any) -> list[tuple[str, str]]:
    """The member page's access buttons, each for who may use it: check in, the access
    log, and the member's cards (where a lost one is replaced)."""
    from .events import CHECK_IN_PERMISSION

    mine = urlencode({"member__id__exact": member.pk})
    tools: list[tuple[str, str]] = []
    if request.user.has_perm(CHECK_IN_PERMISSION):
        url = reverse("admin:access_control_accessevent_check_in")
        tools.append((str(_("Check in")), f"{url}?{urlencode({'member': member.pk})}"))
    if request.user.has_perm("access_control.view_accessevent"):
        url = reverse("admin:access_control_accessevent_changelist")
        tools.append((str(_("Access log")), f"{url}?{mine}"))
    if request.user.has_perm("access_control.view_credential"):
        url = reverse("admin:access_control_credential_changelist")
        tools.append((str(_("Cards and passes")), f"{url}?{mine}"))
    if request.user.has_perm("access_control.add_credential"):
        url = reverse("admin:access_control_credential_add")
        tools.append((str(_("Issue a card")), f"{url}?{urlencode({'member': member.pk})}"))
    return tools
