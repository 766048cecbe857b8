"""Gate overrides, credentials and device keys in the audit trail: each action one
record naming the staff member, with the values before and after (docs/audit.md)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from access_control.models import AccessEvent, Credential, CredentialKind, Device
from access_control.services import (
    credential_issue,
    credential_replace,
    credential_revoke,
    device_authenticate,
    device_revoke,
    device_rotate_key,
    manual_check_in,
    override_denial,
)
from members import audit, roles
from members.audit_models import ActorKind, AuditRecord
from tests.factories import MemberFactory

from .helpers import NOW, card, check

pytestmark = pytest.mark.django_db


def only(action: str, **filters: Any) -> AuditRecord:
    return AuditRecord.objects.get(action=action, **filters)


@pytest.fixture
def desk(make_staff):
    return make_staff(roles.FRONT_DESK, username="desk")


def test_an_override_is_recorded_with_the_denial_before_and_the_grant_after(reader, desk, clock):
    member = MemberFactory()
    card(member, "04A1B2C3")
    denied = AccessEvent.objects.get(pk=check(reader, "04A1B2C3")["event_id"])
    clock.move_to(NOW + dt.timedelta(minutes=1))
    granted = override_denial(denied, desk, "Paid in cash, receipt 123")
    record = only("access.override")
    assert record.before == {"decision": "denied", "reason": denied.reason, "event": denied.pk}
    assert record.after == {"decision": "granted", "reason": "staff_override", "event": granted.pk}
    assert (record.actor_kind, record.actor_user_id) == (ActorKind.STAFF, desk.pk)
    assert record.member_id == member.pk and record.reason == "Paid in cash, receipt 123"


@pytest.mark.parametrize("frozen", [False, True], ids=["admitted", "denied"])
def test_a_manual_check_in_by_the_desk_is_recorded_with_its_decision(
    zone, member_with, desk, frozen
):
    from billing.services import memberships as ms
    from tests.billing.factories import PlanFactory

    membership = member_with(plan=PlanFactory(freezes_per_year=1))
    if frozen:
        ms.membership_freeze(
            membership, starts_on=NOW.date(), ends_on=NOW.date() + dt.timedelta(days=10)
        )
    result = manual_check_in(membership.member, zone, desk)
    record = only("access.manual_check_in")
    assert record.subject_id == str(result.event_id) and record.member_id == membership.member_id
    assert record.after["decision"] == ("denied" if frozen else "granted")
    assert record.after["reason"] == result.reason and record.after["zone"] == zone.pk
    assert record.actor_user_id == desk.pk


def test_credentials_issued_revoked_and_replaced_are_recorded_without_their_value(desk):
    member = MemberFactory()
    with audit.acting(ActorKind.STAFF, "desk", user=desk):
        credential = credential_issue(member, kind="rfid", value="04A1B2C3", issued_by=desk)
    issued = only("credential.issue")
    assert issued.after == {"kind": "rfid", "label": "", "status": "active"}
    assert issued.member_id == member.pk and issued.actor_user_id == desk.pk
    credential_revoke(credential, lost=True)
    revoked = only("credential.revoke", subject_id=str(credential.pk))
    assert revoked.before == {"status": "active", "revoked_at": None}
    assert revoked.after["status"] == "lost" and revoked.after["revoked_at"]
    # Revoking again changes nothing, and records nothing.
    credential_revoke(credential)
    assert AuditRecord.objects.filter(action="credential.revoke").count() == 1

    card_two = credential_issue(member, kind="rfid", value="04A1B2C4")
    new = credential_replace(card_two, value="04A1B2C5")
    assert only("credential.revoke", subject_id=str(card_two.pk)).after["status"] == "lost"
    assert AuditRecord.objects.filter(action="credential.issue", subject_id=str(new.pk)).exists()
    qr = credential_issue(member, kind=CredentialKind.QR)
    # Neither a card's number nor a QR pass's secret id is ever in the trail (the trail
    # can't be anonymised when a member is erased).
    values = list(Credential.objects.filter(member=member).values_list("value", flat=True))
    assert qr.value in values
    for record in AuditRecord.objects.filter(member=member):
        assert not any(value in record.content() for value in values)


def test_device_keys_made_rotated_and_revoked_are_recorded(zone, make_device, make_staff):
    owner = make_staff(roles.OWNER, username="owner")
    with audit.acting(ActorKind.STAFF, "owner", user=owner):
        device, _key = make_device(zone, "front-door")
        made = only("device.create")
        assert made.after["name"] == "front-door" and made.after["zone"] == zone.pk
        assert made.after["key_prefix"] == device.key_prefix
        old_prefix = device.key_prefix
        device_rotate_key(device)
        rotated = only("device.rotate_key")
        assert rotated.before["key_prefix"] == old_prefix
        assert rotated.after["key_prefix"] == Device.objects.get(pk=device.pk).key_prefix
        assert rotated.after["key_prefix"] != old_prefix
        device_revoke(device)
        device_revoke(device)  # idempotent: one record
    revoked = only("device.revoke")
    assert revoked.before == {"revoked_at": None} and revoked.after["revoked_at"]
    assert {made.actor_user_id, rotated.actor_user_id, revoked.actor_user_id} == {owner.pk}
    for record in (made, rotated, revoked):
        assert "key_hash" not in record.after and _key not in record.content()


def test_a_device_request_is_recorded_as_the_device(zone, make_device):
    device, key = make_device(zone, "side-gate")
    identity = device_authenticate(key)

    class DeviceRequest:
        user = None
        auth = identity
        META = {"REMOTE_ADDR": "10.0.0.9"}

    with audit.serving(DeviceRequest(), request_id="dev-1"):
        record = audit.audit_record("test.device", subject_type="x", subject_id=1)
    assert record.actor_kind == ActorKind.DEVICE
    assert record.actor_label == f"device side-gate (#{device.pk})"
    assert (record.request_id, record.ip_address) == ("dev-1", "10.0.0.9")
