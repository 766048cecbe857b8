"""What the desk's browser tests set up: a site with a turnstile, members in each state,
and the words the pages use in English and Thai.

Everything is made through the services, on the live server's database (these tests
commit), and the gate is asked through its real API with a device key.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from playwright.sync_api import Page

from access_control.models import DeviceDirection, DeviceKind
from access_control.services import credential_issue, device_create
from billing.models import BillingReason, LineKind, Location, Membership, Zone
from billing.services import memberships, payments
from billing.services.invoices import LineSpec, invoice_create
from members.models import Member
from tests.billing.factories import PlanFactory, card, signed_up

DESK_WIDTH = 1366

WORDS = {
    "en": {
        "take_payment": "Take payment",
        "check_in": "Check in",
        "add_membership": "Add membership",
        "next": "Next: agreement and payment",
        "sign_up": "Sign up",
        "granted": "Granted",
        "active": "Active",
        "suspended": "Suspended",
        "received": "received from",
        "timeline": "Timeline",
        "today": "Check-ins today",
        "memberships_of": "Memberships of",
        "overdue": "Overdue",
    },
    "th": {
        "take_payment": "รับชำระเงิน",
        "check_in": "เช็คอิน",
        "add_membership": "เพิ่มสมาชิกภาพ",
        "next": "ถัดไป: ข้อตกลงและการชำระเงิน",
        "sign_up": "สมัคร",
        "granted": "อนุญาต",
        "active": "ใช้งานอยู่",
        "suspended": "ระงับชั่วคราว",
        "received": "ได้รับ",
        "timeline": "ลำดับเหตุการณ์",
        "today": "เช็คอินวันนี้",
        "memberships_of": "สมาชิกภาพของ",
        "overdue": "ค้างชำระ",
    },
}


@dataclass
class Gate:
    zone: Zone
    key: str

    def check(self, page: Page, server: str, credential: str) -> dict[str, Any]:
        """Ask the real access API, through the live server, as a turnstile does."""
        response = page.request.post(
            f"{server}/api/v1/access/check",
            data={"credential": credential},
            headers={"Authorization": f"Device {self.key}"},
        )
        assert response.status == 200, response.text()
        return dict(response.json())


def gate() -> Gate:
    location = Location.objects.create(name="Sukhumvit", time_zone="Asia/Bangkok")
    zone = Zone.objects.create(location=location, code="gym-floor", name="Gym floor")
    _device, key = device_create(
        zone=zone, name="gym-floor-in", kind=DeviceKind.TURNSTILE, direction=DeviceDirection.IN
    )
    return Gate(zone=zone, key=key)


def with_card(member: Member, uid: str) -> str:
    credential_issue(member, kind="rfid", value=uid)
    return uid


def suspended_for_an_unpaid_charge(**member_fields: Any) -> Membership:
    """A member whose personal-training charge was declined and whose access billing
    suspended: the gate refuses them until they pay."""
    membership = signed_up(plan=PlanFactory(price=150_000), **member_fields)
    membership.refresh_from_db()
    declining = card(membership.member, "tok_decline_insufficient_funds")
    invoice = invoice_create(
        member=membership.payer,
        currency="THB",
        reason=BillingReason.FEE,
        specs=[LineSpec(LineKind.FEE, "Personal training", 80_000, 700, True)],
        membership_id=membership.pk,
        apply_account=False,
    )
    attempt = payments.invoice_charge(invoice, method=declining)
    memberships.membership_payment_failed(membership.pk, attempt)
    membership.refresh_from_db()
    memberships.membership_suspend(membership)
    membership.refresh_from_db()
    return membership


def no_wider_than_the_desk(page: Page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= DESK_WIDTH, f"the page is {width}px wide"
