"""The audit trail's record page reads as people read: money fields as money in their
currency, rates as percentages, each field by its name in the reader's language."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import translation

from members import audit, roles
from members.audit_models import AuditRecord
from tests.billing.factories import PlanFactory, signed_up
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db


def _record_page(client: Client, record: AuditRecord, language: str = "en") -> str:
    url = reverse("admin:members_auditrecord_change", args=[record.pk])
    response = client.get(url, HTTP_ACCEPT_LANGUAGE=language)
    assert response.status_code == 200
    return response.content.decode()


@pytest.fixture
def owner_client(make_staff) -> Client:
    client = Client()
    client.force_login(make_staff(roles.OWNER, username="owner"))
    return client


def test_money_and_rates_read_as_money_and_percentages(owner_client):
    plan = PlanFactory(price=150_000, tax_rate_bp=700, trial_days=7)
    record = audit.model_change_record(
        plan,
        {"price": 150_000, "tax_rate_bp": 700, "trial_days": 7},
        {"price": 180_050, "tax_rate_bp": 750, "trial_days": 14},
    )
    assert record is not None

    page = _record_page(owner_client, record)

    for text in ("฿1,500.00", "฿1,800.50", "7%", "7.5%"):
        assert text in page
    assert "150000" not in page and "180050" not in page
    # A count stays a count.
    assert "<td>7</td>" in page and "<td>14</td>" in page


def test_fields_are_named_in_the_readers_language(owner_client):
    plan = PlanFactory(price=150_000)
    record = audit.model_change_record(plan, {"price": 150_000}, {"price": 160_000})
    assert record is not None
    with translation.override("th"):
        thai_name = str(plan._meta.get_field("price").verbose_name)

    page = _record_page(owner_client, record, "th")

    assert thai_name != "price"
    assert thai_name in page
    assert "฿1,600.00" in page


def test_values_of_keys_that_are_not_fields_are_shown_as_recorded(owner_client):
    plan = PlanFactory()
    record = audit.audit_record(
        "plan.note", plan, before={"count": 150_000}, after={"count": 160_000}
    )

    page = _record_page(owner_client, record)

    assert "150000" in page and "160000" in page


def test_the_trail_names_a_member_by_number_never_by_name():
    member = MemberFactory(first_name="Somchai", last_name="Jaidee")
    record = audit.audit_record("member.note", member)
    assert record.subject_label == f"#{member.member_number}"
    assert record.member_id == member.pk

    membership = signed_up(member=member)
    about = audit.audit_record("membership.change", membership, member=member)
    assert "Somchai" not in about.subject_label and "Jaidee" not in about.subject_label
    assert f"#{member.member_number}" in about.subject_label
