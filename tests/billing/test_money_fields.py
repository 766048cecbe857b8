"""Money and rate fields: people type and read ``800.50`` and ``7%``; the database keeps
``80050`` and ``700``.  Forms refuse what is not money, and every admin screen shows and
takes amounts that way because the fields say they are money (``billing.fields``)."""

from __future__ import annotations

import pytest
from django.test import Client
from hypothesis import given
from hypothesis import strategies as st

from billing.fields import MoneyFormField, RateFormField
from billing.models import Coupon, Plan
from billing.money import (
    AmountNotReadable,
    format_amount,
    format_rate,
    major_units,
    parse_amount,
    parse_rate,
    rate_as_typed,
)
from dunning.models import LadderStep
from members import roles
from tests.billing.factories import PlanFactory


@pytest.mark.parametrize(
    ("typed", "currency", "minor"),
    [
        ("800", "THB", 80_000),
        ("800.5", "THB", 80_050),
        ("800.50", "THB", 80_050),
        ("1,500", "THB", 150_000),
        ("1,234,567.89", "THB", 123_456_789),
        ("฿800", "THB", 80_000),
        (" 800 THB ", "THB", 80_000),
        ("-25", "THB", -2_500),
        ("500", "JPY", 500),
        ("1.234", "KWD", 1_234),
    ],
)
def test_typed_amounts_are_read_exactly(typed, currency, minor):
    assert parse_amount(typed, currency) == minor


@pytest.mark.parametrize(
    ("typed", "code"),
    [
        ("8.001", "too_precise"),
        ("abc", "invalid"),
        ("1,50", "invalid"),
        ("", "invalid"),
        ("1e3", "invalid"),
    ],
)
def test_unreadable_amounts_say_why(typed, code):
    with pytest.raises(AmountNotReadable) as refused:
        parse_amount(typed, "THB")
    assert refused.value.code == code


@given(
    st.integers(min_value=-(10**12), max_value=10**12),
    st.sampled_from(["THB", "JPY", "KWD", "USD"]),
)
def test_what_is_shown_to_type_reads_back_the_same(amount, currency):
    assert parse_amount(major_units(amount, currency), currency) == amount
    assert parse_amount(format_amount(amount, currency), currency) == amount


@pytest.mark.parametrize(
    ("basis_points", "shown", "typed"),
    [
        (700, "7%", "7"),
        (750, "7.5%", "7.5"),
        (725, "7.25%", "7.25"),
        (0, "0%", "0"),
        (10_000, "100%", "100"),
    ],
)
def test_rates_read_as_percentages(basis_points, shown, typed):
    assert format_rate(basis_points) == shown
    assert rate_as_typed(basis_points) == typed
    assert parse_rate(shown) == parse_rate(typed) == basis_points


@given(st.integers(min_value=0, max_value=10_000))
def test_a_rate_shown_reads_back_the_same(basis_points):
    assert parse_rate(format_rate(basis_points)) == basis_points


def test_money_form_field_takes_major_units_and_states_limits_as_money():
    field = MoneyFormField(currency="THB", min_value=1, max_value=100_000)
    assert field.clean("800.50") == 80_050
    assert field.prepare_value(80_050) == "800.50"
    with pytest.raises(Exception, match="decimal places"):
        field.clean("1.001")
    with pytest.raises(Exception, match=r"at most ฿1,000.00"):
        field.clean("1000.01")
    with pytest.raises(Exception, match=r"at least ฿0.01"):
        field.clean("0")


def test_rate_form_field_takes_percentages():
    field = RateFormField(max_value=5_000)
    assert field.clean("7") == 700
    assert field.clean("7.5%") == 750
    assert field.prepare_value(700) == "7"
    with pytest.raises(Exception, match="at most 50%"):
        field.clean("60")


def test_model_forms_of_money_and_rate_fields_use_them():
    price = Plan._meta.get_field("price").formfield()
    tax = Plan._meta.get_field("tax_rate_bp").formfield()
    assert isinstance(price, MoneyFormField) and price.min_value == 0
    assert isinstance(tax, RateFormField) and tax.max_value == 5_000


@pytest.fixture
def manager(make_staff):
    client = Client()
    client.force_login(make_staff(roles.MANAGER))
    return client


def _plan_form(**overrides):
    data = {
        "code": "monthly-test",
        "is_active": "on",
        "name": "Monthly test",
        "name_th": "",
        "description": "",
        "kind": "recurring",
        "interval": "month",
        "interval_count": "1",
        "price": "800.50",
        "currency": "THB",
        "joining_fee": "1,000",
        "tax_rate_bp": "7",
        "prices_include_tax": "on",
        "trial_days": "0",
        "minimum_term_periods": "0",
        "cancellation_notice_days": "0",
        "cancellation_fee": "0",
        "early_termination_fee": "0",
        "freezes_per_year": "0",
        "freeze_min_days": "7",
        "freeze_max_days": "90",
        "freeze_fee": "150",
        "renewal_reminder_days": "3",
        "class_credits_per_period": "0",
        "entitlements-TOTAL_FORMS": "0",
        "entitlements-INITIAL_FORMS": "0",
        "entitlements-MIN_NUM_FORMS": "0",
        "entitlements-MAX_NUM_FORMS": "1000",
    }
    return {**data, **overrides}


@pytest.mark.django_db
def test_the_admin_takes_a_price_as_money_and_stores_minor_units(manager):
    response = manager.post("/admin/billing/plan/add/", _plan_form())
    assert response.status_code == 302, response.content.decode()[:3000]

    plan = Plan.objects.get(code="monthly-test")
    assert (plan.price, plan.joining_fee, plan.freeze_fee, plan.tax_rate_bp) == (
        80_050,
        100_000,
        15_000,
        700,
    )
    page = manager.get(f"/admin/billing/plan/{plan.pk}/change/").content.decode()
    assert 'name="price" value="800.50"' in page
    assert 'name="tax_rate_bp" value="7"' in page
    assert "฿800.50" in manager.get("/admin/billing/plan/").content.decode()


@pytest.mark.django_db
def test_the_admin_refuses_an_amount_that_is_not_money(manager):
    response = manager.post(
        "/admin/billing/plan/add/", _plan_form(price="800.505", tax_rate_bp="700")
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert "Too many decimal places for this currency." in page
    assert "Enter at most 50%." in page  # 700 is read as 700%, not as basis points
    assert not Plan.objects.exists()


@pytest.mark.django_db
def test_coupons_and_ladder_steps_take_percentages_and_money(manager, make_staff):
    owner = Client()
    owner.force_login(make_staff(roles.OWNER, username="owner"))
    response = manager.post(
        "/admin/billing/coupon/add/",
        {
            "code": "spring",
            "name": "Spring",
            "percent_off_bp": "12.5",
            "amount_off": "",
            "currency": "THB",
            "duration": "once",
            "duration_periods": "",
            "max_redemptions": "",
            "valid_until": "",
            "is_active": "on",
        },
    )
    assert response.status_code == 302
    assert Coupon.objects.get(code="spring").percent_off_bp == 1_250

    step = LadderStep.objects.order_by("position").first() or LadderStep.objects.create(
        position=1, name="Reminder", days_since_failure=3
    )
    page = owner.get(f"/admin/dunning/ladderstep/{step.pk}/change/").content.decode()
    assert f'name="late_fee" value="{major_units(step.late_fee, "THB")}"' in page


@pytest.mark.django_db
def test_a_read_only_amount_shows_as_money_in_its_own_currency(make_staff):
    plan = PlanFactory(price=123_456, currency="THB")
    owner = Client()
    owner.force_login(make_staff(roles.FRONT_DESK))  # may view plans, not change them
    page = owner.get(f"/admin/billing/plan/{plan.pk}/change/").content.decode()
    assert "฿1,234.56" in page
    assert "123456" not in page
    assert "7%" in page


@pytest.mark.django_db
def test_the_plan_list_reads_in_words_in_each_language(make_staff):
    PlanFactory(interval="week", interval_count=2, price=79_000, tax_rate_bp=700)
    owner = Client()
    owner.force_login(make_staff(roles.OWNER))
    english = owner.get("/admin/billing/plan/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "2 weeks" in english and "฿790.00" in english and "7% included" in english
    thai = owner.get("/admin/billing/plan/", HTTP_ACCEPT_LANGUAGE="th").content.decode()
    assert "2 สัปดาห์" in thai and "รวมภาษี 7% แล้ว" in thai
