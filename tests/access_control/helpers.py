"""Helpers for the access control tests."""

from __future__ import annotations

import datetime as dt
from typing import Any

from rest_framework.test import APIClient

from access_control.models import Credential, CredentialFormat, CredentialKind
from access_control.services import credential_issue
from members.models import Member

NOW = dt.datetime(2027, 2, 3, 3, 0, tzinfo=dt.UTC)  # Wednesday, 10:00 in Bangkok
TODAY = dt.date(2027, 2, 3)


def device_client(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Device {key}")
    return client


def card(member: Member, value: str | None = None, **fields: Any) -> Credential:
    """An RFID card (by default, its number in hex) for ``member``, issued by the service."""
    kind = fields.pop("kind", CredentialKind.RFID)
    if kind == CredentialKind.RFID:
        fields.setdefault("input_format", CredentialFormat.HEX)
    return credential_issue(member, kind=kind, value=value or f"04{member.pk:06X}AB", **fields)


def check(client: APIClient, credential: str, **body: Any) -> Any:
    """POST a read to the check endpoint; it must answer 200."""
    response = client.post(
        "/api/v1/access/check", {"credential": credential, **body}, format="json"
    )
    assert response.status_code == 200, response.content
    return response.json()
