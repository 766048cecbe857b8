"""What access control holds about a member, for the privacy registry
(``members.privacy``): cards and passes, visits, who is inside."""

from __future__ import annotations

import datetime as dt

from django.utils.translation import gettext_lazy

from members.models import Member
from members.privacy.registry import ModelPolicy, register

from .models import AccessEvent, AllowlistListing, Credential, CredentialStatus, ZonePresence


def revoke_credentials(member: Member, now: dt.datetime) -> int:
    """Every card and pass stops working at once; what was printed on them goes, so the
    member can't be found by their card."""
    from .services.credentials import credential_revoke

    count = 0
    for credential in Credential.objects.filter(member=member):
        if credential.status == CredentialStatus.ACTIVE:
            credential_revoke(credential)
        Credential.objects.filter(pk=credential.pk).update(
            value=f"erased-{credential.pk}", label="", updated_at=now
        )
        count += 1
    return count


def register_access_control() -> None:
    register(
        ModelPolicy(
            "access_control.Credential",
            rows=lambda m: Credential.objects.filter(member=m),
            erase=revoke_credentials,
            order=15,
        )
    )
    register(
        ModelPolicy(
            "access_control.AccessEvent",
            rows=lambda m: AccessEvent.objects.filter(member=m),
            # Visits stay as counts for the gym's reports (when, which door, granted or
            # not); the value presented at the reader and staff's typed reasons go.
            erase=lambda m, now: AccessEvent.objects.filter(member=m).update(
                presented="", override_reason=""
            ),
        )
    )
    register(
        ModelPolicy(
            "access_control.ZonePresence",
            rows=lambda m: ZonePresence.objects.filter(member=m),
            erase=lambda m, now: ZonePresence.objects.filter(member=m).delete()[0],
        )
    )
    register(
        ModelPolicy(
            "access_control.AllowlistListing",
            rows=lambda m: AllowlistListing.objects.filter(credential__member=m),
            retained=gettext_lazy(
                "The gates' list of which credential is listed on which zone: it holds "
                "only ids, and the revoked credential leaves the gates at their next sync."
            ),
        )
    )
