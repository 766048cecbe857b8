"""Joining online: plan, details, agreement, payment; then a member with a portal login.

The fees shown before joining are the fees charged; the signature is the member's own
(their time, address and browser); bad input saves nothing; a join that fails at the
payment stays a lead and a prospect, never a member with access.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from billing.gateways import get_gateway
from billing.models import (
    BillingReason,
    Invoice,
    InvoiceStatus,
    Membership,
    PaymentMethod,
    PromptPayRequest,
)
from billing.money import format_amount
from billing.services import memberships as membership_services
from billing.services.promptpay import promptpay_request_check
from config import clock
from config.clock import travel_to
from members.models import AgreementSignature, Lead, Member
from tests.billing.factories import PlanFactory
from tests.factories import AgreementVersionFactory, MemberFactory

pytestmark = pytest.mark.django_db(transaction=True)

# The 15th of a 30-day month, 10:00 in Bangkok: joiners are billed on the 1st.
JOIN_AT = dt.datetime(2027, 4, 15, 3, 0, tzinfo=dt.UTC)
IPHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148"


@pytest.fixture(autouse=True)
def _gym(settings: Any) -> None:
    settings.JOIN_ANCHOR_DAY = 1
    settings.PROMPTPAY_ROUTE = "gateway"
    settings.PROMPTPAY_ID = ""
    get_gateway("sandbox").reset()
    AgreementVersionFactory(is_current=True, body_en="You agree to pay on time.")


@pytest.fixture
def plan():
    return PlanFactory(
        code="monthly",
        name="Monthly",
        price=150_000,
        joining_fee=50_000,
        minimum_term_periods=6,
        cancellation_notice_days=30,
        cancellation_fee=20_000,
        early_termination_fee=300_000,
        freezes_per_year=2,
        freeze_fee=10_000,
    )


def visitor(ip: str = "198.51.100.7") -> Client:
    return Client(REMOTE_ADDR=ip, HTTP_USER_AGENT=IPHONE, HTTP_ACCEPT_LANGUAGE="en")


DETAILS = {
    "first_name": "Nok",
    "last_name": "Srisuk",
    "email": "nok@example.com",
    "phone": "081 234 5678",
    "date_of_birth": "1995-02-03",
    "language": "en",
}


def give_details(client: Client, plan, **changes: Any):
    return client.post(reverse("join:details", args=[plan.code]), {**DETAILS, **changes})


def sign(client: Client, name: str = "Nok Srisuk"):
    return client.post(reverse("join:agreement"), {"signer_name": name, "consent": "yes"})


def pay(client: Client, route: str = "card", token: str = "tok_ok"):
    return client.post(reverse("join:pay"), {"route": route, "card_token": token})


def join(client: Client, plan, token: str = "tok_ok", **details: Any):
    assert give_details(client, plan, **details).status_code == 302
    assert sign(client).status_code == 302
    return pay(client, token=token)


def amounts(html: str, block_id: str) -> list[str]:
    block = re.search(rf'id="{block_id}".*?</dl>', html, re.S)
    assert block, block_id
    return re.findall(r"฿[\d,]+\.\d\d", block.group(0))


def test_every_fee_shown_before_joining_is_what_the_invoices_charge(plan):
    client = visitor()
    with travel_to(JOIN_AT):
        page = client.get(reverse("join:plans")).content.decode()
        price, joining, cancellation, early, freeze = amounts(page, f"fees-{plan.code}")
        today = re.search(r'class="join-today".*?</table>', page, re.S).group(0)
        shown_lines = re.findall(r"฿[\d,]+\.\d\d", today)
        response = join(client, plan)
    assert response.status_code == 302
    member = Member.objects.get(email="nok@example.com")
    membership = Membership.objects.get(member=member)
    first = Invoice.objects.get(membership=membership, billing_reason=BillingReason.SIGNUP)
    assert first.status == InvoiceStatus.PAID
    money = lambda amount: format_amount(amount, "THB")  # noqa: E731
    # Today: the first period from the 15th to the 1st (prorated) and the joining fee.
    assert [money(line.amount) for line in first.lines.order_by("pk")] == shown_lines[:-1]
    assert money(first.total) == shown_lines[-1]
    assert joining == money(plan.joining_fee)
    assert (membership.current_period_end, membership.next_billing_date) == (
        dt.date(2027, 5, 1),
        dt.date(2027, 5, 1),
    )
    assert f"Then {price} on 1 May 2027" in page
    # Later fees: a freeze, then leaving inside the minimum term.
    with travel_to(JOIN_AT + dt.timedelta(days=2)):
        membership_services.membership_freeze(
            membership, starts_on=dt.date(2027, 4, 20), ends_on=dt.date(2027, 5, 4)
        )
        membership.refresh_from_db()
        membership_services.membership_cancel(membership, at_period_end=False)
    fees = [
        [money(line.amount) for line in invoice.lines.order_by("pk")]
        for invoice in Invoice.objects.filter(
            membership=membership, billing_reason=BillingReason.FEE
        ).order_by("pk")
    ]
    assert fees == [[freeze], [early, cancellation]]


def test_the_signature_is_the_members_own_time_address_and_browser(plan):
    client = visitor(ip="203.0.113.99")
    with travel_to(JOIN_AT):
        give_details(client, plan)
        sign(client, "  Nok   Srisuk ")
    with travel_to(JOIN_AT + dt.timedelta(minutes=7)):
        pay(client)
    signature = AgreementSignature.objects.get(member__email="nok@example.com")
    assert signature.signer_name == "Nok Srisuk"
    assert (signature.ip_address, signature.user_agent) == ("203.0.113.99", IPHONE)
    assert abs(signature.signed_at - JOIN_AT) < dt.timedelta(seconds=5)
    assert not signature.signed_by_guardian


def test_the_new_member_is_active_signed_in_and_the_lead_won(plan):
    client = visitor()
    response = join(client, plan)
    assert response["Location"] == reverse("join:welcome")
    member = Member.objects.get(email="nok@example.com")
    assert member.status == "active" and member.user is not None
    assert member.lead_source == "website"
    assert PaymentMethod.objects.get(member=member).last4
    lead = Lead.objects.get()
    assert (lead.status, lead.member, lead.stopped_at) == ("won", member, "joined")
    assert client.session["_auth_user_id"] == str(member.user.pk)
    assert client.get(reverse("join:welcome"))["Location"].startswith(reverse("access_portal:pass"))


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"email": "not-an-email"}, "email"),
        ({"email": ""}, "email"),
        ({"phone": "12"}, "phone"),
        ({"date_of_birth": "2090-01-01"}, "date_of_birth"),
        ({"date_of_birth": "1890-01-01"}, "date_of_birth"),
        ({"first_name": "Nok\u202e"}, "first_name"),
        ({"last_name": ""}, "last_name"),
    ],
)
def test_bad_details_are_refused_with_the_desks_messages_and_nothing_saved(plan, changes, field):
    response = give_details(visitor(), plan, **changes)
    assert response.status_code == 200
    assert field in response.context["form"].errors
    assert not Lead.objects.exists() and not Member.objects.exists()


def test_an_email_that_is_already_a_members_is_refused(plan):
    MemberFactory(email="nok@example.com")
    response = give_details(visitor(), plan, email="NOK@example.com")
    assert (
        "Another member already uses this email address."
        in response.context["form"].errors["email"]
    )


def test_a_minor_needs_a_guardian_who_signs_and_pays(plan):
    client = visitor()
    minor = {"date_of_birth": (clock.today() - dt.timedelta(days=365 * 15)).isoformat()}
    response = give_details(client, plan, **minor)
    assert "guardian_first_name" in response.context["form"].errors
    response = give_details(
        client,
        plan,
        **minor,
        guardian_first_name="Dao",
        guardian_last_name="Srisuk",
        guardian_phone="0812223333",
        guardian_date_of_birth=(clock.today() - dt.timedelta(days=365 * 16)).isoformat(),
    )
    assert "guardian_date_of_birth" in response.context["form"].errors  # not an adult
    response = give_details(
        client,
        plan,
        **minor,
        guardian_first_name="Dao",
        guardian_last_name="Srisuk",
        guardian_phone="0812223333",
        guardian_date_of_birth="1980-01-01",
    )
    assert response.status_code == 302
    page = client.get(reverse("join:agreement"))
    assert page.context["minor"] and "Guardian's full name" in page.content.decode()
    sign(client, "Dao Srisuk")
    assert pay(client).status_code == 302
    member = Member.objects.get(email="nok@example.com")
    assert member.guardian.full_name == "Dao Srisuk" and member.payer == member.guardian
    signature = AgreementSignature.objects.get(member=member)
    assert signature.signed_by_guardian and signature.signer_name == "Dao Srisuk"
    assert Invoice.objects.get(membership__member=member).member == member.guardian


def test_the_agreement_needs_a_typed_name_and_consent(plan):
    client = visitor()
    give_details(client, plan)
    response = client.post(reverse("join:agreement"), {"signer_name": "", "consent": ""})
    assert set(response.context["errors"]) == {"signer_name", "consent"}
    response = client.post(reverse("join:agreement"), {"signer_name": "Nok\x1b[2J"})
    assert "signer_name" in response.context["errors"]
    assert client.get(reverse("join:pay"))["Location"] == reverse("join:plans")


def test_a_declined_card_leaves_a_lead_and_a_prospect_with_nothing_to_show(plan):
    client = visitor()
    response = join(client, plan, token="tok_decline_insufficient_funds")
    assert response.status_code == 400
    assert "not enough money" in response.content.decode()
    member = Member.objects.get(email="nok@example.com")
    membership = Membership.objects.get(member=member)
    assert (member.status, member.user, membership.status) == ("prospect", None, "pending")
    lead = Lead.objects.get()
    assert (lead.status, lead.stopped_at) == ("new", "payment")
    # The same join pays with another card: one member, one invoice, now paid.
    assert pay(client, token="tok_ok").status_code == 302
    member.refresh_from_db()
    assert member.status == "active" and Member.objects.count() == 1
    assert Invoice.objects.get(membership=membership).status == InvoiceStatus.PAID


def test_a_card_the_gateway_does_not_know_saves_nothing(plan):
    client = visitor()
    response = join(client, plan, token="not-a-token")
    assert response.status_code == 400
    assert "does not recognise this card" in response.content.decode()
    assert not Member.objects.exists() and not Membership.objects.exists()
    assert Lead.objects.get().status == "new"


def test_a_card_number_is_refused_and_never_stored(plan):
    response = join(visitor(), plan, token="4242 4242 4242 4242")
    assert response.status_code == 400
    assert not Member.objects.exists()
    assert "4242" not in str(list(Lead.objects.values()))


def test_an_agreement_changed_while_signing_must_be_read_again(plan):
    client = visitor()
    give_details(client, plan)
    sign(client)
    AgreementVersionFactory(kind="waiver", is_current=True)
    response = pay(client)
    assert response.status_code == 400 and not Member.objects.exists()


def test_joining_by_promptpay_in_the_sandbox(plan):
    client = visitor()
    give_details(client, plan)
    sign(client)
    response = pay(client, route="promptpay")
    assert response.status_code == 302
    page = client.get(reverse("join:pay"))
    assert "svg" in page.content.decode() and page.context["show"].pending
    assert client.get(reverse("join:pay_status")).json()["status"] == "pending"
    request = PromptPayRequest.objects.get()
    get_gateway("sandbox").promptpay_pay(request.gateway_reference)
    promptpay_request_check(request, force=True)
    assert client.get(reverse("join:pay_status")).json()["status"] == "paid"
    assert client.get(reverse("join:pay"))["Location"] == reverse("join:welcome")
    member = Member.objects.get(email="nok@example.com")
    assert member.status == "active" and member.user is not None


def test_the_join_pages_refuse_what_is_not_a_step():
    assert visitor().get(reverse("join:details", args=["no-such-plan"])).status_code == 404
    assert visitor().get(reverse("join:agreement"))["Location"] == reverse("join:plans")
    assert visitor().get(reverse("join:pay_status")).status_code == 404
    assert visitor().get(reverse("join:welcome"))["Location"] == reverse("join:plans")
    assert visitor().put(reverse("join:plans")).status_code == 405


def test_hostile_payment_input_is_refused_and_saves_nothing(plan):
    client = visitor()
    give_details(client, plan)
    sign(client)
    for body in (
        {"route": "bitcoin"},
        {"route": "card", "card_token": ""},
        {"route": "card", "card_token": "tok_ok\x00" + "x" * 5000},
    ):
        response = client.post(reverse("join:pay"), body)
        assert response.status_code == 400, body
        assert response.context["problem"]
    assert not Member.objects.exists() and not Membership.objects.exists()


def test_oversized_details_are_refused(plan):
    response = give_details(visitor(), plan, first_name="N" * 500, email="a" * 300 + "@x.com")
    assert response.status_code == 200
    assert {"first_name", "email"} <= set(response.context["form"].errors)
    assert not Lead.objects.exists()
