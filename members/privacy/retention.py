"""The retention task: once the legal period is over, what was kept of an erased member
for tax (an invoice's buyer, a sale's buyer) is anonymised too.  Run daily by beat."""

from __future__ import annotations

import datetime as dt

from ..audit import acting, audit_record
from ..audit_models import ActorKind
from . import registry
from .erasure import tax_retention_cutoff


def retention_run(now: dt.datetime | None = None) -> dict[str, int]:
    """Anonymise every kept record past its retention period; returns rows per model."""
    cutoff = tax_retention_cutoff(now)
    counts: dict[str, int] = {}
    with acting(ActorKind.JOB, "privacy retention"):
        for policy in registry.policies():
            if policy.after_retention is None:
                continue
            changed = policy.after_retention(cutoff)
            if changed:
                counts[policy.label] = changed
        if counts:
            audit_record(
                "privacy.retention",
                subject_type="privacy.retention",
                subject_id=cutoff.date().isoformat(),
                subject_label=cutoff.date().isoformat(),
                after={"records": counts, "before": cutoff.isoformat()},
            )
    return counts
