"""Pay owing at the till: billing's payment path settles the invoice, dunning ends, and
the gate admits at the next check."""

from __future__ import annotations

import uuid

import pytest

from access_control.services import credential_issue, device_create
from billing.models import InvoiceStatus, Location, MembershipStatus, Zone
from billing.services.promptpay import promptpay_request_mark_paid
from dunning.models import CaseStatus, DunningCase
from pos.errors import SaleRefused
from pos.models import SaleStatus, TenderKind
from pos.services.sales import TenderIn, sale_submit
from pos.services.tills import till_start_and_open
from tests.access_control.helpers import check, device_client
from tests.dunning import conftest as dunning_fixtures
from tests.dunning.conftest import local
from tests.dunning.helpers import fail_renewal

pytestmark = pytest.mark.django_db(transaction=True)

# Dunning's fixtures: its seeded policy and settings, a clean bank, the gym, and a member
# whose renewal card declines.
_seeded_policy = dunning_fixtures._seeded_policy
_dunning_settings = dunning_fixtures._dunning_settings
bank = dunning_fixtures.bank
gym = dunning_fixtures.gym
failing_member = dunning_fixtures.failing_member


def suspended(request, time_machine):
    membership = request.getfixturevalue("failing_member")("tok_decline_insufficient_funds")
    fail_renewal(time_machine, local(2026, 4, 5, 10))
    from django.core.management import call_command

    time_machine.move_to(local(2026, 4, 15, 0, 5), tick=False)
    call_command("run_dunning", no_progress=True)
    membership.refresh_from_db()
    assert membership.status == MembershipStatus.SUSPENDED
    return membership


@pytest.mark.parametrize("route", ["cash", "promptpay"])
def test_pay_owing_ends_dunning_and_the_gate_admits(
    route,
    request,
    time_machine,
    station,
    desk,
):
    membership = suspended(request, time_machine)
    member = membership.member
    zone = Zone.objects.create(
        location=Location.objects.create(name="Gate site", time_zone="Asia/Bangkok"),
        code="gym-floor",
        name="Gym floor",
    )
    _, device_key = device_create(zone=zone, name="Turnstile")
    uid = f"04{member.pk:06X}AB"
    credential_issue(member, kind="rfid", value=uid, input_format="hex")
    gate = device_client(device_key)
    time_machine.move_to(local(2026, 4, 15, 9), tick=False)
    assert check(gate, uid, direction="in")["granted"] is False
    case = DunningCase.objects.get(invoice__membership=membership)
    owed = case.invoice.amount_due

    till = till_start_and_open(station, count={}, user=desk)
    tender = TenderIn(TenderKind.CASH if route == "cash" else TenderKind.PROMPTPAY, owed)
    sale = sale_submit(
        till=till,
        user=desk,
        idempotency_key=uuid.uuid4().hex,
        member=member,
        kind="owing",
        tenders=[tender],
    )
    if route == "promptpay":
        assert sale.status == SaleStatus.PENDING
        request = sale.tenders.get().promptpay_request
        promptpay_request_mark_paid(request, amount=owed)
        sale.refresh_from_db()
    assert sale.status == SaleStatus.COMPLETED and sale.number.startswith("RC-")
    case.refresh_from_db()
    case.invoice.refresh_from_db()
    membership.refresh_from_db()
    assert case.invoice.status == InvoiceStatus.PAID
    assert case.status != CaseStatus.OPEN
    assert membership.status == MembershipStatus.ACTIVE
    assert check(gate, uid, direction="in")["granted"] is True


def test_nothing_owed_is_refused(station, desk, db):
    from tests.factories import MemberFactory

    till = till_start_and_open(station, count={}, user=desk)
    with pytest.raises(SaleRefused) as refused:
        sale_submit(
            till=till,
            user=desk,
            idempotency_key=uuid.uuid4().hex,
            member=MemberFactory(),
            kind="owing",
            tenders=[TenderIn(TenderKind.CASH, 100)],
        )
    assert refused.value.reason == "nothing_owed"
