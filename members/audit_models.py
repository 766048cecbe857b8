"""The audit trail's record: one append-only, hash-chained table every app writes to.

It lives in ``members``, the lowest app, so billing, dunning, access control, classes and
the till can all write to it without an import pointing the wrong way.  Subjects and
actors from higher apps are named by type, id and label, never by a foreign key.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from config import clock

GENESIS = "0" * 64


class AuditAppendOnly(Exception):
    """An audit record is never changed or deleted."""


class ActorKind(models.TextChoices):
    STAFF = "staff", _("staff member")
    API_KEY = "api_key", _("API key")
    MEMBER = "member", _("member")
    DEVICE = "device", _("device")
    JOB = "job", _("scheduled job")
    WEBHOOK = "webhook", _("gateway webhook")
    SYSTEM = "system", _("system")


class AuditQuerySet(models.QuerySet["AuditRecord"]):
    def update(self, **kwargs: Any) -> int:
        raise AuditAppendOnly("audit records are append-only")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise AuditAppendOnly("audit records are append-only")


class AuditRecord(models.Model):
    """Who changed what, when, from which values to which, why, and from where.

    ``hash`` covers this record's content and the previous record's hash, so editing or
    removing any record breaks every hash after it (``manage.py audit_verify``)."""

    at = models.DateTimeField(_("when"), default=clock.now, db_index=True)
    actor_kind = models.CharField(_("actor kind"), max_length=10, choices=ActorKind.choices)
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("staff account"),
    )
    actor_label = models.CharField(_("by"), max_length=200, blank=True)
    action = models.CharField(_("action"), max_length=60, db_index=True)
    subject_type = models.CharField(_("record type"), max_length=60)
    subject_id = models.CharField(_("record id"), max_length=64)
    subject_label = models.CharField(_("record"), max_length=200, blank=True)
    member = models.ForeignKey(
        "members.Member",
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("member"),
    )
    before = models.JSONField(_("before"), default=dict, blank=True)
    after = models.JSONField(_("after"), default=dict, blank=True)
    reason = models.TextField(_("reason"), blank=True)
    request_id = models.CharField(_("request id"), max_length=64, blank=True, db_index=True)
    ip_address = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    prev_hash = models.CharField(_("previous hash"), max_length=64)
    hash = models.CharField(_("hash"), max_length=64, unique=True)

    objects = AuditQuerySet.as_manager()

    class Meta:
        verbose_name = _("audit record")
        verbose_name_plural = _("audit trail")
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["member", "-id"], name="audit_member_recent"),
            models.Index(fields=["subject_type", "subject_id"], name="audit_subject"),
        ]

    def __str__(self) -> str:
        return f"{self.action} · {self.subject_label or self.subject_id}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AuditAppendOnly("audit records are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise AuditAppendOnly("audit records are append-only")

    def content(self) -> str:
        """The canonical text the hash covers."""
        return json.dumps(
            {
                "at": self.at.astimezone(dt.UTC).isoformat(),
                "actor_kind": self.actor_kind,
                "actor_user": self.actor_user_id,
                "actor_label": self.actor_label,
                "action": self.action,
                "subject_type": self.subject_type,
                "subject_id": self.subject_id,
                "subject_label": self.subject_label,
                "member": self.member_id,
                "before": self.before,
                "after": self.after,
                "reason": self.reason,
                "request_id": self.request_id,
                "ip_address": self.ip_address,
            },
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=False,
        )

    def compute_hash(self) -> str:
        return hashlib.sha256(f"{self.prev_hash}\n{self.content()}".encode()).hexdigest()
