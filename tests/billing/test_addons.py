"""Add-ons during a membership: added now with a prorated charge, removed at period end."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.test import Client

from billing.errors import TransitionNotAllowed
from billing.models import (
    AddOn,
    BillingReason,
    Invoice,
    InvoiceStatus,
    LineKind,
    MembershipAddOn,
    MembershipStatus,
    PlanKind,
)
from billing.money import prorate
from billing.services import memberships as ms
from billing.services.bulk import bill_due_batch
from config.errors import InvalidInput
from members import roles
from tests.billing.factories import PlanFactory, signed_up
from tests.concurrency import at_once

# Real commits: charges run after commit, as in production.
pytestmark = pytest.mark.django_db(transaction=True)
S = MembershipStatus
START = dt.datetime(2027, 1, 31, 3, 0, tzinfo=dt.UTC)  # 10:00 in Bangkok


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


@pytest.fixture
def locker() -> AddOn:
    return AddOn.objects.create(code="locker", name="Locker", price=28_000, tax_rate_bp=700)


def addon_invoices(membership):
    return list(
        Invoice.objects.filter(membership=membership, billing_reason=BillingReason.PRORATION)
    )


def renew(membership):
    """Bill the membership's next period, as the billing run does on its billing date."""
    bill_due_batch([membership.pk], membership.next_billing_date)
    return Invoice.objects.filter(membership=membership, billing_reason=BillingReason.CYCLE).latest(
        "pk"
    )


def test_adding_charges_the_rest_of_the_period_and_renews_with_the_plan(clock, locker):
    membership = signed_up(plan=PlanFactory(price=150_000))
    start, end = membership.current_period_start, membership.current_period_end
    clock.move_to(START + dt.timedelta(days=10))
    invoice = ms.membership_add_addon(membership, locker, quantity=2)
    assert invoice is not None
    invoice.refresh_from_db()
    left, total = (end - (start + dt.timedelta(days=10))).days, (end - start).days
    assert invoice.total == prorate(2 * 28_000, left, total)
    assert invoice.status == InvoiceStatus.PAID, "charged to the card on file"
    (line,) = invoice.lines.all()
    assert (line.kind, line.period_end) == (LineKind.ADDON, end)
    assert membership.events.filter(kind="addon_added").exists()

    clock.move_to(dt.datetime.combine(end, dt.time(3), tzinfo=dt.UTC))
    renewal = renew(membership)
    lines = {line.kind: line for line in renewal.lines.all()}
    assert lines[LineKind.ADDON].quantity == 2
    assert renewal.total == 150_000 + 2 * 28_000


def test_during_a_trial_an_addon_bills_nothing_until_the_first_period(locker):
    membership = signed_up(plan=PlanFactory(trial_days=14))
    assert membership.status == S.TRIALING
    assert ms.membership_add_addon(membership, locker) is None
    assert addon_invoices(membership) == []
    assert MembershipAddOn.objects.filter(membership=membership, ended_on=None).count() == 1


def test_removing_ends_at_the_period_already_paid_and_the_next_renewal_drops_it(clock, locker):
    membership = signed_up(plan=PlanFactory(price=150_000))
    ms.membership_add_addon(membership, locker)
    item = ms.membership_remove_addon(membership, locker)
    assert item.ended_on == membership.current_period_end
    assert membership.events.filter(kind="addon_removed").exists()
    with pytest.raises(TransitionNotAllowed) as twice:
        ms.membership_remove_addon(membership, locker)
    assert twice.value.reason == "addon_removal_scheduled"
    # The member changes their mind: adding it again keeps it, with nothing more to pay.
    invoices_before = Invoice.objects.filter(membership=membership).count()
    assert ms.membership_add_addon(membership, locker) is None
    item.refresh_from_db()
    assert item.ended_on is None and membership.events.filter(kind="addon_kept").exists()
    assert Invoice.objects.filter(membership=membership).count() == invoices_before
    item = ms.membership_remove_addon(membership, locker)

    clock.move_to(dt.datetime.combine(membership.current_period_end, dt.time(3), tzinfo=dt.UTC))
    renewal = renew(membership)
    assert not renewal.lines.filter(kind=LineKind.ADDON).exists()
    assert renewal.total == 150_000


@pytest.mark.parametrize(
    ("setup", "reason"),
    [
        ("twice", "addon_already_added"),
        ("inactive", "addon_not_on_sale"),
        ("currency", "currency_mismatch"),
        ("prepaid", "addon_on_prepaid_plan"),
        ("frozen", "change_addons_from_frozen"),
    ],
)
def test_refusals_have_stable_reasons_and_change_nothing(locker, setup, reason):
    if setup == "prepaid":
        membership = signed_up(plan=PlanFactory(kind=PlanKind.PREPAID, interval_count=3))
    else:
        membership = signed_up(plan=PlanFactory(freezes_per_year=2, freeze_min_days=7))
    if setup == "twice":
        ms.membership_add_addon(membership, locker)
    if setup == "inactive":
        locker.is_active = False
        locker.save()
    if setup == "currency":
        locker.currency = "USD"
        locker.save()
    if setup == "frozen":
        today = dt.date(2027, 1, 31)
        ms.membership_freeze(
            membership, starts_on=today, ends_on=today + dt.timedelta(days=14), reason="travel"
        )
    before = MembershipAddOn.objects.filter(membership=membership).count()
    with pytest.raises(TransitionNotAllowed) as refused:
        ms.membership_add_addon(membership, locker)
    assert refused.value.reason == reason
    assert MembershipAddOn.objects.filter(membership=membership).count() == before


def test_two_adds_at_once_add_it_once(locker):
    membership = signed_up()
    outcomes = at_once(lambda: ms.membership_add_addon(membership, locker) is not None)
    assert set(outcomes) == {True, "addon_already_added"}
    assert MembershipAddOn.objects.filter(membership=membership).count() == 1
    assert len(addon_invoices(membership)) == 1, "charged once"


def test_a_quantity_outside_the_range_is_a_field_error(locker):
    membership = signed_up()
    for bad in (0, ms.ADDON_MAX_QUANTITY + 1):
        with pytest.raises(InvalidInput) as refused:
            ms.membership_add_addon(membership, locker, quantity=bad)
        assert "quantity" in refused.value.fields
    assert not MembershipAddOn.objects.filter(membership=membership).exists()


def test_the_api_adds_and_removes_and_refuses_with_codes(api_as, locker):
    membership = signed_up()
    desk = api_as(roles.FRONT_DESK)
    url = f"/api/v1/billing/memberships/{membership.pk}"
    added = desk.post(f"{url}/add-addon/", {"addon": "locker", "quantity": 1}, format="json")
    assert added.status_code == 200, added.content
    (item,) = added.json()["addons"]
    assert (item["code"], item["quantity"], item["ended_on"]) == ("locker", 1, None)

    again = desk.post(f"{url}/add-addon/", {"addon": "locker"}, format="json")
    assert again.status_code == 409
    assert (again.json()["code"], again.json()["reason"]) == (
        "transition_not_allowed",
        "addon_already_added",
    )
    bad = desk.post(f"{url}/add-addon/", {"addon": "nope", "quantity": "many"}, format="json")
    assert bad.status_code == 400 and set(bad.json()["fields"]) == {"addon", "quantity"}

    removed = desk.post(f"{url}/remove-addon/", {"addon": "locker"}, format="json")
    assert removed.status_code == 200, removed.content
    assert removed.json()["addons"][0]["ended_on"] == str(membership.current_period_end)


def test_the_front_desk_changes_addons_from_the_membership_page(make_staff, locker):
    membership = signed_up()
    client = Client()
    client.force_login(make_staff(roles.FRONT_DESK))
    page = f"/admin/billing/membership/{membership.pk}/change/"
    assert "addons/" in client.get(page).content.decode()
    url = f"/admin/billing/membership/{membership.pk}/addons/"
    assert client.get(url).status_code == 200
    response = client.post(url, {"change": "add", "addon": locker.pk, "quantity": 1})
    assert response.status_code == 302, response.content.decode()[:2000]
    assert MembershipAddOn.objects.filter(membership=membership, ended_on=None).count() == 1
    refused = client.post(url, {"change": "add", "addon": locker.pk, "quantity": 1}, follow=True)
    assert MembershipAddOn.objects.filter(membership=membership).count() == 1
    assert refused.status_code == 200
