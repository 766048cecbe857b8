"""Staff reasons (waivers, window overrides, waitlist skips) are clean text and never hold
a card number: refused in the service, the API and the admin, nothing stored or echoed."""

from __future__ import annotations

import pytest
from django.test import Client

from classes.errors import BookingRefused, CardNumberInText
from classes.models import Booking, BookingEvent, ClassFee
from classes.services import booking as svc
from classes.services import fees
from config.errors import InvalidInput
from members import roles

pytestmark = pytest.mark.django_db

PAN = "4242 4242 4242 4242"
SPLIT_PAN = "card 4111-1111-1111-1111 on file"


@pytest.fixture
def fee(yoga, make_member, make_session) -> ClassFee:
    yoga.late_cancel_fee, yoga.cancel_cutoff_minutes = 10_000, 120
    yoga.save()
    booking = svc.book(make_member(), make_session(hours=1).pk)
    svc.cancel(booking.pk)
    return ClassFee.objects.get(booking=booking)


@pytest.mark.parametrize("reason", [PAN, SPLIT_PAN])
def test_a_waiver_reason_with_a_card_number_is_refused(fee, make_staff, reason):
    with pytest.raises(CardNumberInText) as refused:
        fees.fee_waive(fee, make_staff(roles.MANAGER), reason)
    assert refused.value.code == "card_number_refused"
    assert "4242" not in str(refused.value.as_dict()) and "4111" not in str(refused.value.as_dict())
    fee.refresh_from_db()
    assert (fee.status, fee.waive_reason) == ("pending", "")
    assert not BookingEvent.objects.filter(kind="fee_waived").exists()


def test_a_waiver_reason_with_control_characters_is_refused(fee, make_staff):
    with pytest.raises(InvalidInput) as refused:
        fees.fee_waive(fee, make_staff(roles.MANAGER), "fine\x1b[31m")
    assert list(refused.value.fields) == ["reason"]
    fee.refresh_from_db()
    assert fee.status == "pending"


def test_an_override_or_a_waitlist_skip_with_a_card_number_is_refused(
    make_member, make_session, make_staff
):
    staff = make_staff(roles.MANAGER)
    member = make_member()
    session = make_session(hours=24 * 30)  # outside the window: an override is needed
    with pytest.raises(CardNumberInText):
        svc.book(member, session.pk, override=True, override_reason=PAN, actor=staff)
    assert not Booking.objects.filter(member=member).exists()
    with pytest.raises(BookingRefused):
        svc.book(member, session.pk, override=True, override_reason=" ", actor=staff)
    full = make_session(capacity=1)
    svc.book(make_member(), full.pk)
    waiting = svc.book(member, full.pk)
    with pytest.raises(CardNumberInText):
        svc.move_off_waitlist(waiting.pk, actor=staff, reason=f"paid by {PAN}")
    waiting.refresh_from_db()
    assert waiting.status == "waitlisted"


def test_the_api_refuses_a_card_number_in_an_override_reason(api_as, make_member, make_session):
    member, session = make_member(), make_session(hours=24 * 30)
    response = api_as(roles.MANAGER).post(
        "/api/v1/classes/bookings/",
        {"session": session.pk, "member": member.pk, "override_window": True, "reason": PAN},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["code"] == "card_number_refused"
    assert "4242" not in response.content.decode()
    assert not Booking.objects.filter(member=member).exists()


def test_the_waiver_queue_refuses_a_card_number_and_never_shows_it(fee, make_staff):
    client = Client()
    client.force_login(make_staff(roles.MANAGER))
    response = client.post(
        "/admin/classes/classfee/waivers/", {"fee": fee.pk, "reason": PAN}, follow=True
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert "Never write a card number here." in page
    assert "4242" not in page
    fee.refresh_from_db()
    assert (fee.status, fee.waive_reason) == ("pending", "")
    # A clean reason still waives it.
    client.post("/admin/classes/classfee/waivers/", {"fee": fee.pk, "reason": "First time"})
    fee.refresh_from_db()
    assert (fee.status, fee.waive_reason) == ("waived", "First time")
