"""A member's data as a ZIP: one JSON and one CSV file per model the registry knows,
a manifest of what is in it, and a note in English and Thai on how to read it."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import zipfile
from dataclasses import dataclass
from typing import Any

from django.db import models
from django.utils import translation
from django.utils.translation import gettext as _

from config import clock

from ..audit import jsonable, privacy_export_recorded
from ..models import Member
from . import registry

EXPORT_FORMAT = 1


@dataclass(frozen=True)
class ExportFile:
    filename: str
    content: bytes
    counts: dict[str, int]


def export_fields(policy: registry.ModelPolicy) -> list[models.Field[Any, Any]]:
    """The model's stored columns, less the ones that never leave."""
    return [
        field
        for field in policy.model._meta.concrete_fields
        if field.name not in policy.secret and field.attname not in policy.secret
    ]


def export_rows(policy: registry.ModelPolicy, member: Member) -> list[dict[str, Any]]:
    """The member's rows of one model, as JSON-ready dicts (foreign keys by id)."""
    columns = [field.attname for field in export_fields(policy)]
    rows = policy.rows(member).order_by("pk").values(*columns)
    return [{column: jsonable(row[column]) for column in columns} for row in rows]


def _csv_bytes(columns: list[str], rows: list[dict[str, Any]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(columns)
    for row in rows:
        writer.writerow(
            [
                json.dumps(row[c], ensure_ascii=False)
                if isinstance(row[c], dict | list)
                else row[c]
                for c in columns
            ]
        )
    # A BOM so spreadsheet programs read Thai text as UTF-8.
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def _readme(member: Member, generated: str) -> str:
    parts = []
    for language in ("en", "th"):
        with translation.override(language):
            parts.append(
                "\n".join(
                    [
                        _("Your personal data held by the gym (PDPA / GDPR)"),
                        _("Member number: %(number)s") % {"number": member.member_number},
                        _("Prepared: %(when)s") % {"when": generated},
                        "",
                        _(
                            "Each kind of record is in two files: json/<name>.json and "
                            "csv/<name>.csv. manifest.json lists every file and how many "
                            "records it holds. Amounts are in the smallest unit of the "
                            "currency (satang: 80000 is 800.00 baht). Card numbers are never "
                            "stored: cards appear by brand and last 4 digits only."
                        ),
                    ]
                )
            )
    return "\n\n----\n\n".join(parts) + "\n"


def export_build(member: Member) -> ExportFile:
    """Everything every app holds about ``member``, as a ZIP (bytes, in memory: one
    member's records are small)."""
    now = clock.now()
    buffer = io.BytesIO()
    counts: dict[str, int] = {}
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for policy in registry.policies():
            columns = [field.attname for field in export_fields(policy)]
            rows = export_rows(policy, member)
            counts[policy.label] = len(rows)
            archive.writestr(
                f"json/{policy.file_stem}.json",
                json.dumps(rows, ensure_ascii=False, indent=1, sort_keys=True),
            )
            archive.writestr(f"csv/{policy.file_stem}.csv", _csv_bytes(columns, rows))
        manifest = {
            "format": EXPORT_FORMAT,
            "member_number": member.member_number,
            "generated_at": now.isoformat(),
            "files": {
                label: {
                    "json": f"json/{registry.policy_for(label).file_stem}.json",  # type: ignore[union-attr]
                    "csv": f"csv/{registry.policy_for(label).file_stem}.csv",  # type: ignore[union-attr]
                    "records": count,
                }
                for label, count in counts.items()
            },
        }
        archive.writestr("manifest.json", json.dumps(manifest, ensure_ascii=False, indent=1))
        archive.writestr("README.txt", _readme(member, now.isoformat(timespec="minutes")))
    stamp = now.strftime("%Y%m%d-%H%M")
    return ExportFile(
        filename=f"member-{member.member_number}-data-{stamp}.zip",
        content=buffer.getvalue(),
        counts=counts,
    )


def member_export(member: Member, *, reason: str = "", request_id: int | None = None) -> ExportFile:
    """Build the member's export and record in the audit trail who took it (the actor
    comes from the request: a staff member or the member)."""
    export = export_build(member)
    # Each model's row count, never the data.
    privacy_export_recorded(member, files=export.counts, request_id=request_id, reason=reason)
    return export


# --- the member's own download from the portal ---------------------------------------

LINK_SALT = "members.privacy.export-link"


def export_request(
    member: Member, *, source: str, requested_by: Any = None, ip_address: str | None = None
) -> Any:
    """A request for a copy of the member's data, answered at once: the copy is built when
    the member downloads it, through a signed link that expires
    (``settings.PRIVACY_EXPORT_LINK_HOURS``)."""
    from django.db import transaction

    from ..models import PrivacyRequest, PrivacyRequestKind, PrivacyRequestStatus

    if member.erased_at is not None:
        from django.core.exceptions import ValidationError

        raise ValidationError(_("This member's data has been erased."), code="erased")
    with transaction.atomic():
        now = clock.now()
        request = PrivacyRequest.objects.create(
            member=member,
            kind=PrivacyRequestKind.EXPORT,
            status=PrivacyRequestStatus.DONE,
            source=source,
            requested_by=requested_by if getattr(requested_by, "is_staff", False) else None,
            requested_at=now,
            handled_at=now,
            ip_address=ip_address,
            answer=_("Ready to download."),
        )
    return request


def export_link_token(request: Any) -> str:
    from django.core.signing import TimestampSigner

    return TimestampSigner(salt=LINK_SALT).sign(f"{request.pk}:{request.member_id}")


def export_link_expires(request: Any) -> Any:
    from django.conf import settings

    return request.requested_at + dt.timedelta(hours=settings.PRIVACY_EXPORT_LINK_HOURS)


class LinkExpired(Exception):
    pass


class LinkInvalid(Exception):
    pass


def export_link_request(token: str, member: Member) -> Any:
    """The export request a link was signed for, if it is ``member``'s and has not
    expired.  ``LinkExpired`` or ``LinkInvalid`` otherwise (another member's link is
    invalid: nobody learns that it exists)."""
    from django.conf import settings
    from django.core.signing import BadSignature, SignatureExpired, TimestampSigner

    from ..models import PrivacyRequest, PrivacyRequestKind

    signer = TimestampSigner(salt=LINK_SALT)
    max_age = dt.timedelta(hours=settings.PRIVACY_EXPORT_LINK_HOURS)
    try:
        value = signer.unsign(token, max_age=max_age)
    except SignatureExpired as exc:
        raise LinkExpired from exc
    except BadSignature as exc:
        raise LinkInvalid from exc
    request_id, _sep, member_id = value.partition(":")
    if not (request_id.isdigit() and member_id.isdigit()) or int(member_id) != member.pk:
        raise LinkInvalid
    request = PrivacyRequest.objects.filter(
        pk=int(request_id), member=member, kind=PrivacyRequestKind.EXPORT
    ).first()
    if request is None:
        raise LinkInvalid
    # The link is signed each time the page shows it: the request's own age decides.
    if clock.now() > export_link_expires(request):
        raise LinkExpired
    return request
