"""The desk's money pages: sign-up in one flow, taking a payment, a new card.

Sign-ups commit for real where billing and dunning act after commit: a sign-up without
a card must leave an open invoice and nothing else (no failed attempt, no message, no
dunning case), and that is only visible once everything has run.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
import time_machine
from django.core import mail
from django.test import Client

from billing.gateways import get_gateway
from billing.models import (
    AttemptStatus,
    Invoice,
    InvoiceStatus,
    MembershipStatus,
    PaymentAttempt,
    PaymentMethod,
    PaymentSource,
)
from billing.services import desk, memberships
from billing.summaries import member_standing
from dunning.models import DunningCase, DunningMessage
from dunning.sms import locmem
from members import roles
from members.models import AgreementSignature
from tests.billing.factories import PlanFactory, signed_up
from tests.factories import AgreementVersionFactory, MemberFactory

NOW = dt.datetime(2027, 2, 3, 3, 0, tzinfo=dt.UTC)  # 10:00 in Bangkok
ADD = "/admin/billing/membership/add/"


@pytest.fixture(autouse=True)
def _clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture(autouse=True)
def _outboxes(settings):
    settings.DUNNING_SMS_BACKEND = "dunning.sms.locmem.LocmemSmsBackend"
    settings.DUNNING_HOOK_ERRORS_RAISE = True
    mail.outbox = []
    locmem.outbox.clear()
    get_gateway("sandbox").reset()


@pytest.fixture
def desk_client(make_staff):
    client = Client()
    client.force_login(make_staff(roles.FRONT_DESK))
    return client


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    return lambda: django_capture_on_commit_callbacks(execute=True)


def text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def sign_up(client, member, plan, *, payment, card_token="", consent=True, key=None, **extra):
    """Both screens of the desk's sign-up, as the desk fills them in."""
    chosen = {"member": member.pk, "plan": plan.pk, "start_on": "", "coupon_code": "", **extra}
    second = client.post(ADD, {**chosen, "step": "choose"})
    assert second.status_code == 200
    data = {
        **chosen,
        "step": "sign",
        "signer_name": member.full_name,
        "payment": payment,
        "card_token": card_token,
        "request_key": key or second.context["form"]["request_key"].value(),
    }
    if consent:
        data["consent"] = "on"
    return client.post(ADD, data, HTTP_USER_AGENT="DeskTablet/1.0", REMOTE_ADDR="203.0.113.7")


# --- Sign-up --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_first_screen_shows_every_plan_with_its_prices_and_fees_as_money(desk_client):
    member = MemberFactory()
    PlanFactory(
        name="Gold",
        price=159_000,
        joining_fee=99_000,
        cancellation_fee=50_000,
        freezes_per_year=2,
        freeze_fee=20_000,
        minimum_term_periods=3,
    )
    PlanFactory(name="Fortnight", price=79_000, interval="week", interval_count=2)

    html = text(desk_client.get(ADD, {"member": member.pk}))

    for shown in (
        "฿1,590.00",
        "a month",
        "Joining fee ฿990.00",
        "Cancellation fee ฿500.00",
        "2 freezes a year (fee ฿200.00)",
        "Minimum term 3 periods",
        "฿790.00",
        "every 2 weeks",
        "VAT 7% included",
    ):
        assert shown in html, shown
    assert f'<option value="{member.pk}" selected' in html  # pre-filled from the member page


@pytest.mark.django_db
def test_the_membership_list_of_a_member_pre_fills_add(desk_client):
    member = MemberFactory()
    listed = desk_client.get(
        "/admin/billing/membership/", {"member__id__exact": member.pk}
    )  # "Memberships of …"
    assert listed.status_code == 200
    page = desk_client.get(ADD, {"_changelist_filters": f"member__id__exact={member.pk}"})
    assert page.context["choose"].initial["member"] == str(member.pk)


@pytest.mark.django_db
def test_the_second_screen_shows_what_is_due_today_and_the_agreement_in_the_members_language(
    desk_client,
):
    AgreementVersionFactory(is_current=True, body_th="ข้อกำหนดของยิม", body_en="Gym terms")
    member = MemberFactory(language="th")
    plan = PlanFactory(price=150_000, joining_fee=50_000)
    page = desk_client.post(
        ADD,
        {"member": member.pk, "plan": plan.pk, "start_on": "", "coupon_code": "", "step": "choose"},
    )
    html = text(page)
    assert "฿2,000.00" in html  # due today: the month and the joining fee
    assert "Then ฿1,500.00 a month, first on 3 Mar 2027." in html
    assert "ข้อกำหนดของยิม" in html and "Gym terms" not in html
    assert page.context["step"] == "sign"


@pytest.mark.django_db(transaction=True)
def test_a_sign_up_with_a_new_card_is_active_and_the_signature_records_time_and_device(
    desk_client,
):
    version = AgreementVersionFactory(is_current=True)
    member = MemberFactory()

    response = sign_up(desk_client, member, PlanFactory(), payment="new_card", card_token="tok_ok")

    assert response.status_code == 302
    assert response["Location"] == f"/admin/members/member/{member.pk}/change/"
    membership = member.memberships.get()
    assert membership.status == MembershipStatus.ACTIVE
    signature = AgreementSignature.objects.get(member=member, version=version)
    assert (signature.signer_name, signature.ip_address, signature.user_agent) == (
        member.full_name,
        "203.0.113.7",
        "DeskTablet/1.0",
    )
    assert signature.signed_at == NOW
    method = PaymentMethod.objects.get(member=member)
    assert method.is_default and method.token.startswith("tok_ok")


@pytest.mark.django_db(transaction=True)
def test_a_desk_sign_up_without_a_card_leaves_an_open_invoice_and_no_failure(desk_client):
    """The acceptance test: no "payment failed" message, no dunning case."""
    member = MemberFactory(transactional_email=True, transactional_sms=True)

    response = sign_up(desk_client, member, PlanFactory(price=120_000), payment="later")

    assert response.status_code == 302
    membership = member.memberships.get()
    invoice = Invoice.objects.get(membership=membership)
    assert (membership.status, invoice.status, invoice.amount_due) == (
        MembershipStatus.PENDING,
        InvoiceStatus.OPEN,
        120_000,
    )
    assert not PaymentAttempt.objects.exists()
    assert not DunningCase.objects.exists() and not DunningMessage.objects.exists()
    assert mail.outbox == [] and list(locmem.outbox) == []
    page = text(desk_client.get(response["Location"]))
    assert "take the payment at the desk" in page
    assert "฿1,200.00" in page  # the profile shows it owed


@pytest.mark.django_db(transaction=True)
def test_a_sign_up_paid_in_cash_is_active_at_once(desk_client):
    member = MemberFactory()
    sign_up(desk_client, member, PlanFactory(price=99_000), payment="cash")
    membership = member.memberships.get()
    assert membership.status == MembershipStatus.ACTIVE
    payment = Invoice.objects.get(membership=membership).payments.get()
    assert (payment.source, payment.amount) == (PaymentSource.CASH, 99_000)


@pytest.mark.django_db(transaction=True)
def test_a_declined_new_card_leaves_the_membership_waiting_and_says_why(desk_client):
    member = MemberFactory()
    response = sign_up(
        desk_client,
        member,
        PlanFactory(),
        payment="new_card",
        card_token="tok_decline_insufficient_funds",
    )
    assert response.status_code == 302
    assert member.memberships.get().status == MembershipStatus.PENDING
    page = text(desk_client.get(response["Location"]))
    assert "the first payment failed" in page and "not enough funds" in page


@pytest.mark.django_db
def test_without_consent_nothing_is_saved(desk_client):
    member = MemberFactory()
    response = sign_up(desk_client, member, PlanFactory(), payment="cash", consent=False)
    assert response.status_code == 200
    assert "must accept the agreement" in text(response)
    assert not member.memberships.exists() and not AgreementSignature.objects.exists()


@pytest.mark.django_db
def test_a_card_number_typed_as_the_card_is_refused_and_not_shown_back(desk_client):
    member = MemberFactory()
    response = sign_up(
        desk_client, member, PlanFactory(), payment="new_card", card_token="4242424242424242"
    )
    assert response.status_code == 200
    assert "4242424242424242" not in response.content.decode()
    assert not member.memberships.exists()


@pytest.mark.django_db(transaction=True)
def test_a_double_click_signs_up_once(desk_client):
    member = MemberFactory()
    plan = PlanFactory()
    first = sign_up(desk_client, member, plan, payment="cash", key="same-key-0123456789")
    second = sign_up(desk_client, member, plan, payment="cash", key="same-key-0123456789")
    assert first.status_code == 302 and second.status_code == 200
    assert member.memberships.count() == 1
    assert Invoice.objects.get().payments.count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    "plan_fields, coupon",
    [
        ({"joining_fee": 99_000}, None),
        ({"trial_days": 7, "joining_fee": 50_000}, None),
        ({"prices_include_tax": False, "price": 100_000}, None),
        ({"price": 100_000}, {"percent_off_bp": 2000, "duration": "once"}),
        ({"kind": "prepaid", "interval_count": 3}, None),
    ],
)
def test_the_quote_is_exactly_the_first_invoice(plan_fields, coupon):
    from billing.models import Coupon

    plan = PlanFactory(**plan_fields)
    code = ""
    if coupon:
        code = Coupon.objects.create(code="SAVE", name="Save", **coupon).code
    member = MemberFactory()

    quote = desk.sign_up_quote(member, plan, coupon_code=code)
    assert not member.memberships.exists()  # nothing kept
    membership = memberships.membership_sign_up(member, plan, coupon_code=code, charge=False)

    invoice = Invoice.objects.filter(membership=membership).first()
    assert quote.total == (invoice.total if invoice else 0)
    assert [line.amount for line in quote.lines] == (
        [line.amount for line in invoice.lines.all()] if invoice else []
    )


# --- Taking a payment -------------------------------------------------------------------------


def take(client, member, **data):
    page = client.get(f"/admin/billing/invoice/take-payment/{member.pk}/")
    form = page.context["form"]
    body = {
        "invoices": [str(pk) for pk in form.initial["invoices"]],
        "route": form.initial["route"],
        "amount": form.initial["amount"],
        "reference": "",
        "request_key": form.initial["request_key"],
        **data,
    }
    return client.post(f"/admin/billing/invoice/take-payment/{member.pk}/?next=/admin/", body)


@pytest.mark.django_db(transaction=True)
def test_cash_pays_the_oldest_invoice_first_and_part_of_the_next(desk_client):
    member = MemberFactory()
    memberships.membership_sign_up(member, PlanFactory(price=100_000))
    from billing.services.invoices import LineSpec, invoice_create

    invoice_create(
        member=member,
        currency="THB",
        reason="fee",
        specs=[LineSpec("fee", "Towel", 50_000, 700, True)],
    )
    response = take(desk_client, member, amount="1200")
    assert response.status_code == 302 and response["Location"] == "/admin/"
    first, second = Invoice.objects.order_by("pk")
    assert (first.status, second.amount_due) == (InvoiceStatus.PAID, 30_000)
    assert member.memberships.get().status == MembershipStatus.ACTIVE


@pytest.mark.django_db(transaction=True)
def test_cash_from_an_overdue_member_restores_them_and_closes_the_case(desk_client):
    membership = signed_up(token="tok_decline_insufficient_funds")
    member = membership.member
    assert DunningCase.objects.get(member=member).status == "open"

    response = take(desk_client, member)

    assert response.status_code == 302
    membership.refresh_from_db()
    assert membership.status == MembershipStatus.ACTIVE
    assert DunningCase.objects.get(member=member).status == "recovered"


@pytest.mark.django_db(transaction=True)
def test_the_card_on_file_pays_what_is_owed_and_a_decline_is_said_plainly(desk_client):
    from billing.services.invoices import LineSpec, invoice_create

    good = signed_up(token="tok_ok").member
    invoice_create(
        member=good, currency="THB", reason="fee", specs=[LineSpec("fee", "PT", 80_000, 700, True)]
    )
    assert take(desk_client, good, route="card").status_code == 302
    assert not Invoice.objects.filter(member=good, status=InvoiceStatus.OPEN).exists()

    poor = signed_up(token="tok_decline_insufficient_funds").member
    declined = take(desk_client, poor, route="card")
    assert declined.status_code == 200
    assert "not enough funds" in text(declined)
    assert Invoice.objects.filter(member=poor, status=InvoiceStatus.OPEN).exists()


@pytest.mark.django_db
def test_refusals_come_back_on_the_page(desk_client):
    member = MemberFactory()
    memberships.membership_sign_up(member, PlanFactory(price=100_000))
    too_much = take(desk_client, member, amount="2000")
    assert too_much.status_code == 200
    assert "more than is owed" in text(too_much)
    nothing = take(desk_client, member, amount="")
    assert "Enter the amount received." in text(nothing)
    assert Invoice.objects.get().amount_paid == 0


@pytest.mark.django_db
def test_a_charge_still_in_flight_is_refused_cleanly(desk_client):
    membership = signed_up(token="tok_ok")
    member = membership.member
    from billing.services.invoices import LineSpec, invoice_create

    invoice = invoice_create(
        member=member,
        currency="THB",
        reason="fee",
        specs=[LineSpec("fee", "Towel", 50_000, 700, True)],
    )
    PaymentAttempt.objects.create(
        invoice=invoice,
        attempt_number=1,
        trigger="staff",
        gateway="sandbox",
        amount=50_000,
        currency="THB",
        idempotency_key="inflight-1",
        status=AttemptStatus.PENDING,
        created_at=NOW,
    )
    response = take(desk_client, member, route="card")
    assert response.status_code == 200
    assert "still in progress" in text(response)


@pytest.mark.django_db
def test_take_payment_needs_its_permission_and_a_real_member(make_staff, desk_client):
    member = MemberFactory()
    assert desk_client.get(
        "/admin/billing/invoice/take-payment/99999999999999999999/"
    ).status_code == (404)
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Permission

    user = get_user_model().objects.create_user(username="viewer", password="pw", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename="view_invoice"))
    client = Client()
    client.force_login(user)
    assert client.get(f"/admin/billing/invoice/take-payment/{member.pk}/").status_code == 403


# --- A new card ----------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_new_card_becomes_the_card_on_file(desk_client):
    member = MemberFactory()
    page = desk_client.get(f"/admin/billing/paymentmethod/new-card/{member.pk}/")
    key = page.context["form"].initial["request_key"]
    bad = desk_client.post(
        f"/admin/billing/paymentmethod/new-card/{member.pk}/",
        {"card_token": "tok_nonsense_words", "request_key": key},
    )
    assert "does not recognise this card" in text(bad)
    good = desk_client.post(
        f"/admin/billing/paymentmethod/new-card/{member.pk}/",
        {"card_token": "tok_mastercard_ok", "request_key": key},
    )
    assert good.status_code == 302
    assert member_standing(member).card.brand == "mastercard"
    # The sandbox types tokens: it has no hosted card form to start.
    setup = desk_client.post(f"/admin/billing/paymentmethod/card-setup/{member.pk}/?key={key}")
    assert setup.status_code == 503 and setup.json()["code"] == "card_form_unavailable"


@pytest.mark.django_db
def test_promptpay_at_the_desk_shows_the_qr_for_what_is_owed(desk_client, settings):
    from billing.models import PromptPayRequest

    settings.PROMPTPAY_ROUTE = "own_id"
    settings.PROMPTPAY_ID = "0812345678"
    member = MemberFactory()
    memberships.membership_sign_up(member, PlanFactory(price=100_000))

    response = take(desk_client, member, route="promptpay")

    request = PromptPayRequest.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/admin/billing/promptpayrequest/{request.pk}/change/"
    assert request.amount == 100_000
