"""The front desk's billing screens: fast lists, service-backed buttons, read-only money."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.contrib.auth.models import Permission
from django.contrib.messages import get_messages
from django.test import Client

from billing.models import (
    AttemptStatus,
    Coupon,
    CreditNote,
    Invoice,
    InvoiceStatus,
    Membership,
    MembershipStatus,
    Payment,
    PaymentAttempt,
    PaymentMethod,
    Refund,
)
from billing.services import invoices as invoice_services
from billing.services import memberships as ms
from billing.services import payments
from members import roles
from members.services import member_update
from tests.billing.factories import PlanFactory, card, signed_up
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db
S = MembershipStatus
TODAY = dt.date(2027, 1, 31)
ADMIN = "/admin/billing"


@pytest.fixture(autouse=True)
def _clock():
    with time_machine.travel(dt.datetime(2027, 1, 31, 3, 0, tzinfo=dt.UTC), tick=False) as t:
        yield t


@pytest.fixture
def login(make_staff):
    def as_role(role):
        client = Client()
        client.force_login(make_staff(role))
        return client

    return as_role


@pytest.fixture
def desk(login):
    return login(roles.FRONT_DESK)


@pytest.fixture
def manager(login):
    return login(roles.MANAGER)


@pytest.fixture
def owner(login):
    return login(roles.OWNER)


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    return lambda: django_capture_on_commit_callbacks(execute=True)


@pytest.fixture
def active(committed):
    with committed():
        membership = signed_up(plan=PlanFactory(freezes_per_year=2, cancellation_fee=10_000))
    membership.refresh_from_db()
    assert membership.status == S.ACTIVE
    return membership


def open_invoice(token="tok_decline_insufficient_funds"):
    membership = signed_up(plan=PlanFactory(), token=token)
    return Invoice.objects.get(membership=membership)


def texts(response):
    return [str(m) for m in get_messages(response.wsgi_request)]


def page(response):
    return response.content.decode()


# --- Lists ----------------------------------------------------------------------------

LISTS = [
    "plan",
    "addon",
    "pack",
    "coupon",
    "membership",
    "invoice",
    "paymentattempt",
    "paymentmethod",
    "payment",
    "creditnote",
    "ledgerentry",
    "gatewaywebhookevent",
    "notification",
]


@pytest.mark.parametrize("model", LISTS)
def test_every_billing_list_loads_searches_and_opens(owner, active, model):
    # A credit note also puts a credit on the member's account: every list has a row.
    invoice_services.credit_note_issue(
        Invoice.objects.get(membership=active), amount=1_000, reason="Goodwill"
    )
    response = owner.get(f"{ADMIN}/{model}/")
    assert response.status_code == 200
    searched = owner.get(f"{ADMIN}/{model}/", {"q": active.member.last_name})
    assert searched.status_code == 200
    by_number = owner.get(f"{ADMIN}/{model}/", {"q": str(active.member.member_number)})
    assert by_number.status_code == 200
    first = response.context["cl"].result_list.first()
    if first is not None:
        assert owner.get(f"{ADMIN}/{model}/{first.pk}/change/").status_code == 200


def test_lists_show_formatted_amounts(owner, active):
    assert "฿1,500.00" in page(owner.get(f"{ADMIN}/plan/"))
    assert "฿1,500.00" in page(owner.get(f"{ADMIN}/invoice/"))
    assert "฿1,500.00" in page(owner.get(f"{ADMIN}/paymentattempt/"))


def test_front_desk_sees_what_its_role_allows(desk, active):
    for model in ["membership", "invoice", "paymentattempt", "paymentmethod", "ledgerentry"]:
        assert desk.get(f"{ADMIN}/{model}/").status_code == 200, model
    for model in ["payment", "creditnote", "coupon"]:
        assert desk.get(f"{ADMIN}/{model}/").status_code == 403, model
    # Lines, payments and attempts are part of the invoice the desk may view.
    invoice = Invoice.objects.get(membership=active)
    detail = page(desk.get(f"{ADMIN}/invoice/{invoice.pk}/change/"))
    assert "Membership" in detail and "succeeded" in detail.lower()


def test_membership_search_finds_by_member_number_name_or_email(desk, active):
    # A surname nobody else can draw from the name generator.
    member_update(active.member, last_name="Srisomboon-Lindqvist")
    other = signed_up(plan=PlanFactory(), member=MemberFactory(last_name="Wongyai"))
    for term in [str(active.member.member_number), active.member.email, active.member.last_name]:
        found = desk.get(f"{ADMIN}/membership/", {"q": term}).context["cl"].result_list
        assert list(found) == [active], term
    filtered = desk.get(f"{ADMIN}/membership/", {"status__exact": "pending"})
    assert list(filtered.context["cl"].result_list) == [other]


def test_membership_list_query_count_does_not_grow_with_rows(
    desk, active, django_assert_max_num_queries
):
    for _ in range(5):
        signed_up(plan=PlanFactory())
    with django_assert_max_num_queries(12):
        assert desk.get(f"{ADMIN}/membership/").status_code == 200


def test_attempt_list_filters(owner):
    invoice = open_invoice()
    payments.invoice_charge(invoice)
    for params in [
        {"status__exact": "failed"},
        {"decline_category__exact": "funds"},
        {"trigger__exact": "staff"},
    ]:
        response = owner.get(f"{ADMIN}/paymentattempt/", params)
        assert response.status_code == 200
        (attempt,) = response.context["cl"].result_list
        assert attempt.decline_code == "insufficient_funds"
    assert "insufficient_funds" in page(owner.get(f"{ADMIN}/paymentattempt/"))


# --- Membership lifecycle -------------------------------------------------------------


def test_membership_page_is_read_only_with_its_actions_and_audit_trail(desk, active):
    response = desk.get(f"{ADMIN}/membership/{active.pk}/change/")
    html = page(response)
    assert response.status_code == 200
    assert 'name="status"' not in html
    assert 'name="next_billing_date"' not in html
    assert 'name="_save"' not in html
    for action in ["freeze", "cancel", "change-plan", "apply-coupon"]:
        assert f"/admin/billing/membership/{active.pk}/{action}/" in html
    assert "grant-free-time" not in html  # the desk may not give time away
    assert "Signed up" in html  # the audit trail, in words


def test_posting_the_membership_form_changes_nothing(desk, active):
    before = Membership.objects.filter(pk=active.pk).values().get()
    desk.post(f"{ADMIN}/membership/{active.pk}/change/", {"status": "cancelled", "plan": 999})
    assert Membership.objects.filter(pk=active.pk).values().get() == before
    assert desk.post(f"{ADMIN}/membership/{active.pk}/delete/").status_code == 403


def test_freeze_through_the_form(desk, active):
    url = f"{ADMIN}/membership/{active.pk}/freeze/"
    assert desk.get(url).status_code == 200
    assert not active.freezes.exists()  # GET changes nothing
    response = desk.post(
        url, {"starts_on": "2027-02-05", "ends_on": "2027-02-19", "reason": "Travel"}
    )
    assert response.status_code == 302
    assert response.url == f"{ADMIN}/membership/{active.pk}/change/"
    active.refresh_from_db()
    assert (active.frozen_from, active.frozen_until) == (dt.date(2027, 2, 5), dt.date(2027, 2, 19))
    assert active.events.get(kind="frozen").actor.username == "front_desk"


def test_a_refused_freeze_is_an_error_message_not_a_500(desk, active):
    url = f"{ADMIN}/membership/{active.pk}/freeze/"
    response = desk.post(url, {"starts_on": "2027-03-01", "ends_on": "2027-12-01"})
    assert response.status_code == 200
    assert any("too long" in m for m in texts(response))
    assert "too long" in page(response)
    assert not active.freezes.exists()
    bad_dates = desk.post(url, {"starts_on": "2027-03-10", "ends_on": "2027-03-01"})
    assert bad_dates.status_code == 200
    assert "End the freeze after it starts" in page(bad_dates)


def test_unfreeze_asks_for_a_click(desk, active):
    ms.membership_freeze(active, starts_on=TODAY, ends_on=TODAY + dt.timedelta(days=10))
    url = f"{ADMIN}/membership/{active.pk}/unfreeze/"
    desk.get(url)
    active.refresh_from_db()
    assert active.status == S.FROZEN
    assert desk.post(url).status_code == 302
    active.refresh_from_db()
    assert active.status == S.ACTIVE


def test_grant_free_time_is_for_managers(desk, manager, active):
    url = f"{ADMIN}/membership/{active.pk}/grant-free-time/"
    assert desk.get(url).status_code == 403
    assert desk.post(url, {"days": 5, "reason": "x"}).status_code == 403
    assert manager.post(url, {"days": 5, "reason": "Pool closed"}).status_code == 302
    before = active.next_billing_date
    active.refresh_from_db()
    assert active.next_billing_date == before + dt.timedelta(days=5)


def test_staff_without_change_permission_get_403(make_staff, active, django_user_model):
    viewer = django_user_model.objects.create_user("viewer", password="pw", is_staff=True)
    viewer.user_permissions.add(
        Permission.objects.get(codename="view_membership", content_type__app_label="billing")
    )
    client = Client()
    client.force_login(viewer)
    assert client.get(f"{ADMIN}/membership/{active.pk}/change/").status_code == 200
    for action in ["freeze", "unfreeze", "cancel", "reactivate", "change-plan", "apply-coupon"]:
        assert client.post(f"{ADMIN}/membership/{active.pk}/{action}/").status_code == 403
    assert client.get(f"{ADMIN}/membership/add/").status_code == 403


def test_cancel_form_offers_waiving_only_to_managers(desk, manager, active):
    url = f"{ADMIN}/membership/{active.pk}/cancel/"
    assert 'name="waive_fees"' not in page(desk.get(url))
    assert 'name="waive_fees"' in page(manager.get(url))
    # Even if the desk sends it, fees are not waived.
    desk.post(url, {"when": "now", "reason": "Moving", "waive_fees": "on"})
    active.refresh_from_db()
    assert active.status == S.CANCELLED
    fee = Invoice.objects.get(membership=active, billing_reason="fee")
    assert fee.total == 10_000


def test_cancel_then_reactivate(desk, active):
    desk.post(f"{ADMIN}/membership/{active.pk}/cancel/", {"when": "period_end"})
    active.refresh_from_db()
    assert active.cancel_at == active.next_billing_date
    html = page(desk.get(f"{ADMIN}/membership/{active.pk}/change/"))
    assert "Withdraw cancellation" in html
    assert desk.post(f"{ADMIN}/membership/{active.pk}/reactivate/").status_code == 302
    active.refresh_from_db()
    assert active.cancel_at is None


def test_change_plan_and_apply_coupon(desk, active):
    dearer = PlanFactory(price=300_000)
    response = desk.post(
        f"{ADMIN}/membership/{active.pk}/change-plan/",
        {"direction": "downgrade", "plan": dearer.pk},
    )
    assert response.status_code == 200
    assert any("not a downgrade" in m for m in texts(response))
    desk.post(
        f"{ADMIN}/membership/{active.pk}/change-plan/", {"direction": "upgrade", "plan": dearer.pk}
    )
    active.refresh_from_db()
    assert active.plan == dearer

    Coupon.objects.create(code="FRIEND", name="Friend", amount_off=10_000, duration="forever")
    desk.post(f"{ADMIN}/membership/{active.pk}/apply-coupon/", {"code": "FRIEND"})
    active.refresh_from_db()
    assert active.coupon.code == "FRIEND"
    refused = desk.post(f"{ADMIN}/membership/{active.pk}/apply-coupon/", {"code": "FRIEND"})
    assert any("coupon already applied" in m for m in texts(refused))


def test_bulk_actions_report_each_refusal(desk, active, committed):
    with committed():
        other = signed_up(plan=PlanFactory())
    ms.membership_cancel(other, at_period_end=False)
    with committed():  # the cancellation fee is charged to the card on file
        response = desk.post(
            f"{ADMIN}/membership/",
            {"action": "cancel_now", "_selected_action": [active.pk, other.pk]},
            follow=True,
        )
    assert response.status_code == 200
    messages = texts(response)
    assert any("1 memberships cancelled" in m for m in messages)
    assert any("cancel" in m and str(other.member) in m for m in messages)
    active.refresh_from_db()
    assert active.status == S.CANCELLED

    reactivated = desk.post(
        f"{ADMIN}/membership/",
        {"action": "reactivate", "_selected_action": [active.pk]},
        follow=True,
    )
    assert reactivated.status_code == 200
    active.refresh_from_db()
    assert active.status in (S.PENDING, S.ACTIVE)


def test_sign_up_through_the_admin(desk, committed):
    """The membership admin's "Add" is the desk's sign-up flow (tests/billing/test_desk.py
    covers it in full): the member is searched as you type, and a sign-up on the card on
    file makes the membership active; a second one is refused on the page."""
    member, plan = MemberFactory(), PlanFactory()
    card(member)
    form = desk.get(f"{ADMIN}/membership/add/")
    assert form.status_code == 200
    assert "admin-autocomplete" in page(form)
    found = desk.get(
        "/admin/autocomplete/",
        {
            "app_label": "billing",
            "model_name": "membership",
            "field_name": "member",
            "term": member.last_name,
        },
    )
    assert str(member.pk) in [r["id"] for r in found.json()["results"]]
    chosen = {"member": member.pk, "plan": plan.pk, "start_on": "", "coupon_code": ""}
    step = desk.post(f"{ADMIN}/membership/add/", {**chosen, "step": "choose"})
    key = step.context["form"]["request_key"].value()
    signed = {
        **chosen,
        "step": "sign",
        "signer_name": member.full_name,
        "consent": "on",
        "payment": "card",
        "request_key": key,
    }
    with committed():
        response = desk.post(f"{ADMIN}/membership/add/", signed)
    membership = Membership.objects.get(member_id=member.pk)
    assert response.status_code == 302
    assert response.url == f"/admin/members/member/{member.pk}/change/"
    membership.refresh_from_db()
    assert membership.status == S.ACTIVE

    again = desk.post(f"{ADMIN}/membership/add/", {**chosen, "step": "choose"})
    assert again.status_code == 200
    assert "already has a live membership" in page(again)
    assert Membership.objects.filter(member_id=member.pk).count() == 1


# --- Invoices -------------------------------------------------------------------------


def test_issued_invoice_is_read_only(owner, active):
    invoice = Invoice.objects.get(membership=active)
    before = Invoice.objects.filter(pk=invoice.pk).values().get()
    lines_before = list(invoice.lines.values())
    change_url = f"{ADMIN}/invoice/{invoice.pk}/change/"

    html = page(owner.get(change_url))
    for field in ["total", "status", "number", "amount_paid", "due_on"]:
        assert f'name="{field}"' not in html
    assert 'name="lines-0-amount"' not in html
    assert 'name="_save"' not in html

    response = owner.post(
        change_url,
        {
            "total": "1",
            "status": "void",
            "lines-TOTAL_FORMS": "1",
            "lines-INITIAL_FORMS": "1",
            "lines-0-id": str(invoice.lines.first().pk),
            "lines-0-amount": "1",
        },
    )
    assert response.status_code == 403
    assert owner.post(f"{ADMIN}/invoice/{invoice.pk}/delete/").status_code == 403
    assert owner.get(f"{ADMIN}/invoice/add/").status_code == 403
    assert Invoice.objects.filter(pk=invoice.pk).values().get() == before
    assert list(invoice.lines.values()) == lines_before


def test_record_a_cash_payment(desk, committed):
    invoice = open_invoice()
    url = f"{ADMIN}/invoice/{invoice.pk}/pay/"
    form = desk.get(url)
    assert 'value="1500.00"' in page(form)  # the amount due, in baht
    with committed():
        response = desk.post(url, {"amount": "1,500.00", "source": "cash", "reference": "T1"})
    assert response.status_code == 302
    payment = Payment.objects.get(invoice=invoice)
    assert (payment.amount, payment.source, payment.reference) == (150_000, "cash", "T1")
    assert payment.received_by.username == "front_desk"
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PAID
    again = desk.post(url, {"amount": "10", "source": "cash"})
    assert any("already paid" in m for m in texts(again))


@pytest.mark.parametrize("amount", ["10.555", "abc", "-5", "0", "1e3", "NaN", ""])
def test_payment_amount_must_be_money(desk, amount):
    invoice = open_invoice()
    response = desk.post(f"{ADMIN}/invoice/{invoice.pk}/pay/", {"amount": amount, "source": "cash"})
    assert response.status_code == 200
    assert response.context["form"].errors["amount"]
    assert not Payment.objects.exists()


def test_payment_needs_take_payment(make_staff, django_user_model):
    invoice = open_invoice()
    viewer = django_user_model.objects.create_user("viewer", password="pw", is_staff=True)
    viewer.user_permissions.add(
        Permission.objects.get(codename="view_invoice", content_type__app_label="billing")
    )
    client = Client()
    client.force_login(viewer)
    for action in ["pay", "charge", "void", "credit-note"]:
        assert client.get(f"{ADMIN}/invoice/{invoice.pk}/{action}/").status_code == 403
    assert (
        client.post(
            f"{ADMIN}/invoice/{invoice.pk}/pay/", {"amount": "1500", "source": "cash"}
        ).status_code
        == 403
    )
    assert not Payment.objects.exists()


def test_charge_now_reports_the_decline(desk):
    invoice = open_invoice()
    response = desk.post(f"{ADMIN}/invoice/{invoice.pk}/charge/")
    assert response.status_code == 302
    assert any("insufficient_funds" in m and "funds" in m for m in texts(response))
    attempt = PaymentAttempt.objects.get(invoice=invoice)
    assert attempt.status == AttemptStatus.FAILED
    assert attempt.trigger == "staff"


def test_charge_now_bulk_action(desk):
    invoice = open_invoice(token="tok_ok")
    response = desk.post(
        f"{ADMIN}/invoice/", {"action": "charge_now", "_selected_action": [invoice.pk]}
    )
    assert response.status_code == 302
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PAID
    again = desk.post(
        f"{ADMIN}/invoice/", {"action": "charge_now", "_selected_action": [invoice.pk]}
    )
    assert any("nothing due" in m for m in texts(again))


def test_credit_note_and_void_are_for_managers(desk, manager):
    invoice = open_invoice()
    assert (
        desk.post(
            f"{ADMIN}/invoice/{invoice.pk}/credit-note/", {"amount": "100", "reason": "x"}
        ).status_code
        == 403
    )
    assert desk.post(f"{ADMIN}/invoice/{invoice.pk}/void/").status_code == 403
    response = manager.post(
        f"{ADMIN}/invoice/{invoice.pk}/credit-note/", {"amount": "200.50", "reason": "Goodwill"}
    )
    assert response.status_code == 302
    note = CreditNote.objects.get(invoice=invoice)
    assert (note.amount, note.created_by.username) == (20_050, "manager")
    too_much = manager.post(
        f"{ADMIN}/invoice/{invoice.pk}/credit-note/", {"amount": "99999", "reason": "x"}
    )
    assert any("credit exceeds invoice" in m for m in texts(too_much))

    fresh = open_invoice()
    assert manager.post(f"{ADMIN}/invoice/{fresh.pk}/void/").status_code == 302
    fresh.refresh_from_db()
    assert fresh.status == InvoiceStatus.VOID
    refused = manager.post(f"{ADMIN}/invoice/{fresh.pk}/void/")
    assert any("cannot void" in m for m in texts(refused))


# --- Payments and cards ---------------------------------------------------------------


def test_refund_is_only_for_those_who_may_refund(desk, active):
    payment = Payment.objects.get(invoice__membership=active)
    assert desk.get(f"{ADMIN}/payment/{payment.pk}/refund/").status_code == 403
    assert (
        desk.post(
            f"{ADMIN}/payment/{payment.pk}/refund/", {"amount": "10", "reason": "x"}
        ).status_code
        == 403
    )
    assert not Refund.objects.exists()


def test_manager_refunds_through_the_form(manager, active):
    payment = Payment.objects.get(invoice__membership=active)
    response = manager.post(
        f"{ADMIN}/payment/{payment.pk}/refund/", {"amount": "500", "reason": "Broken locker"}
    )
    assert response.status_code == 302
    assert response.url == f"{ADMIN}/invoice/{payment.invoice_id}/change/"
    payment.refresh_from_db()
    assert payment.amount_refunded == 50_000


def test_payment_page_is_read_only(owner, active):
    payment = Payment.objects.get(invoice__membership=active)
    html = page(owner.get(f"{ADMIN}/payment/{payment.pk}/change/"))
    assert 'name="amount"' not in html
    assert f"/admin/billing/payment/{payment.pk}/refund/" in html
    before = Payment.objects.filter(pk=payment.pk).values().get()
    assert owner.post(f"{ADMIN}/payment/{payment.pk}/change/", {"amount": 1}).status_code == 403
    assert Payment.objects.filter(pk=payment.pk).values().get() == before


def test_store_a_card_by_token(desk):
    member = MemberFactory()
    response = desk.post(
        f"{ADMIN}/paymentmethod/add/",
        {"member": member.pk, "gateway": "sandbox", "token": "tok_amex_ok", "make_default": "on"},
    )
    assert response.status_code == 302
    method = PaymentMethod.objects.get(member_id=member.pk)
    assert (method.brand, method.is_default) == ("amex", True)
    html = page(desk.get(f"{ADMIN}/paymentmethod/{method.pk}/change/"))
    assert 'name="token"' not in html
    assert method.last4 in html


def test_unknown_token_is_a_form_error(desk):
    member = MemberFactory()
    response = desk.post(
        f"{ADMIN}/paymentmethod/add/",
        {"member": member.pk, "gateway": "sandbox", "token": "tok_made_up_thing"},
    )
    assert response.status_code == 200
    assert response.context["form"].errors["token"] == [
        "The payment gateway does not recognise this token."
    ]
    assert not PaymentMethod.objects.exists()


def test_card_actions_make_default_and_remove(desk):
    member = MemberFactory()
    first = card(member, "tok_ok.one")
    second = payments.payment_method_attach(
        member, gateway="sandbox", token="tok_ok.two", make_default=False
    )
    desk.post(
        f"{ADMIN}/paymentmethod/", {"action": "make_default", "_selected_action": [second.pk]}
    )
    second.refresh_from_db()
    assert second.is_default
    desk.post(f"{ADMIN}/paymentmethod/", {"action": "detach", "_selected_action": [first.pk]})
    first.refresh_from_db()
    assert first.status == "detached"
    refused = desk.post(
        f"{ADMIN}/paymentmethod/", {"action": "make_default", "_selected_action": [first.pk]}
    )
    assert any("method detached" in m for m in texts(refused))


def test_ledger_is_read_only(owner, active):
    entry = invoice_services.ledger_post(
        active.member, kind="deposit", amount=100, currency="THB", description="Locker deposit"
    )
    assert owner.get(f"{ADMIN}/ledgerentry/{entry.pk}/change/").status_code == 200
    assert owner.post(f"{ADMIN}/ledgerentry/{entry.pk}/change/", {"amount": 5}).status_code == 403
    assert owner.get(f"{ADMIN}/ledgerentry/add/").status_code == 403


def test_the_member_page_links_to_the_members_memberships_and_invoices(desk, active):
    other = signed_up()
    member = active.member
    html = desk.get(f"/admin/members/member/{member.pk}/change/").content.decode()
    for model in ("membership", "invoice"):
        url = f"{ADMIN}/{model}/?member__id__exact={member.pk}"
        assert url in html
        listed = desk.get(url)
        assert listed.status_code == 200
        members = {row.member_id for row in listed.context["cl"].result_list}
        assert members == {member.pk} and other.member_id not in members


def test_a_manager_refunds_from_the_payments_page(manager, active):
    payment = Payment.objects.get(invoice__membership=active)
    assert manager.get(f"{ADMIN}/payment/").status_code == 200
    page_html = manager.get(f"{ADMIN}/payment/{payment.pk}/change/").content.decode()
    assert f"{payment.pk}/refund/" in page_html
    response = manager.post(
        f"{ADMIN}/payment/{payment.pk}/refund/", {"amount": "100.00", "reason": "Broken locker"}
    )
    assert response.status_code == 302
    payment.refresh_from_db()
    assert payment.amount_refunded == 10_000
