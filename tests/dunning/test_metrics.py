"""Recovery metrics: a small known population, built through the real services, and
every figure asserted exactly; then the API's validation and permissions.

The population (renewals due 5 April 2026 at 10:00, each member with their own card):

=====  ===========================  ===============================================  =======
who    renewal card                 what happens                                     paid
=====  ===========================  ===============================================  =======
A      succeed_after_1 (funds)      the first payday retry (15 Apr 10:00) succeeds    +10 d
B      insufficient_funds (funds)   cash at the desk on 7 Apr 12:00                   +2 d 2 h
C      lost_card (hard)             new card on the hosted page, 6 Apr 10:00          +1 d
D      expired_card (cust. action)  adds a new card 8 Apr 11:00: retry at once        +3 d 1 h
E      succeed_after_1 (funds)      staff "retry now" on 6 Apr 16:00                  +1 d 6 h
F      succeed_after_2 (funds)      15 Apr retry fails, 16 Apr retry succeeds         +11 d
G      do_not_honor (generic)       pays ฿500 by PromptPay, then cancelled on day 30  —
H      stolen_card (hard)           written off on 20 April                           —
two    ok                           renewals paid                                     —
=====  ===========================  ===============================================  =======
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse

from billing.models import PaymentSource
from billing.services.invoices import payment_record_manual
from dunning.links import make_token
from dunning.metrics import CohortOutcomes, Rate, dunning_metrics
from dunning.models import CaseStatus
from dunning.services import staff
from members import roles
from tests.billing.factories import card
from tests.dunning.conftest import local
from tests.dunning.helpers import case_of, fail_renewal, run_until

URL = "/api/v1/dunning/metrics/"
APRIL_AND_MAY = {"start": "2026-04-01", "end": "2026-05-31"}
THB = 150_000  # every plan costs ฿1,500.00


@pytest.fixture
def population(failing_member, time_machine):
    who = {
        name: failing_member(token)
        for name, token in [
            ("A", "tok_succeed_after_1"),
            ("B", "tok_decline_insufficient_funds"),
            ("C", "tok_decline_lost_card"),
            ("D", "tok_decline_expired_card"),
            ("E", "tok_succeed_after_1"),
            ("F", "tok_succeed_after_2"),
            ("G", "tok_decline_do_not_honor"),
            ("H", "tok_decline_stolen_card"),
            ("ok1", "tok_ok"),
            ("ok2", "tok_ok"),
        ]
    }
    fail_renewal(time_machine)  # 5 April, 10:00

    run_until(time_machine, local(2026, 4, 6, 10))
    c = case_of(who["C"])
    url = reverse("dunning:pay", args=[make_token(c.member_id, c.invoice_id)])
    Client().post(url, {"action": "pay_new", "card_token": "tok_ok.metrics-c"})

    run_until(time_machine, local(2026, 4, 6, 16))
    assert staff.retry_now(case_of(who["E"])) == "succeeded"

    run_until(time_machine, local(2026, 4, 7, 12))
    b = case_of(who["B"])
    payment_record_manual(b.invoice, amount=THB, source=PaymentSource.CASH)

    run_until(time_machine, local(2026, 4, 8, 11))
    card(who["D"].member, "tok_ok.metrics-d")  # the member's new card: retried at once

    run_until(time_machine, local(2026, 4, 8, 12))
    g = case_of(who["G"])
    payment_record_manual(g.invoice, amount=50_000, source=PaymentSource.PROMPTPAY)

    run_until(time_machine, local(2026, 4, 20, 12))
    staff.write_off(case_of(who["H"]), reason="Moved abroad")

    run_until(time_machine, local(2026, 5, 6, 12))  # G reaches day 30: cancelled
    return who


@pytest.mark.django_db(transaction=True)
def test_every_metric_of_a_known_population(population, django_assert_max_num_queries):
    statuses = {name: case_of(m).status for name, m in population.items() if name[0] != "o"}
    assert statuses == {
        **dict.fromkeys("ABCDEF", CaseStatus.RECOVERED),
        "G": CaseStatus.COLLECTIONS,
        "H": CaseStatus.WRITTEN_OFF,
    }

    with django_assert_max_num_queries(10):
        metrics = dunning_metrics(dt.date(2026, 4, 1), dt.date(2026, 5, 31))

    # Renewals issued in the range: 10, of which 8 failed at least once.
    assert (metrics.renewal_invoices, metrics.failed_renewal_invoices) == (10, 8)
    assert metrics.failed_payment_rate.value == Decimal("0.8000")
    # Attempts on those renewals: 10 by the billing run, A 1, C 1 (hosted page), D 1,
    # E 1 (staff), F 2 and G 9 ("do not honor": generic days and paydays in turn, until
    # its ladder cancels on day 30); 18 declined.
    assert (metrics.attempts, metrics.failed_attempts) == (25, 18)
    assert metrics.attempt_failure_rate.value == Decimal("0.7200")

    # The cohort: the 8 invoices that failed on 5 April.
    assert (metrics.failed_invoices, metrics.recovered_invoices) == (8, 6)
    assert metrics.recovery_rate == Rate(6, 8)
    assert metrics.recovery_rate.value == Decimal("0.7500")
    assert metrics.outcomes == CohortOutcomes(recovered=6, in_dunning=1, written_off=1, closed=0)
    # Money: 8 × ฿1,500 failed; six paid in full and G's ฿500 came back.
    (thb,) = metrics.amounts
    assert (thb.currency, thb.failed_amount, thb.recovered_amount) == ("THB", 1_200_000, 950_000)
    assert thb.rate.value == Decimal("0.7917")
    # The median of the six recoveries (the middle two averaged).
    assert metrics.median_time_to_recover == dt.timedelta(days=2, hours=1)
    assert metrics.median_days_hours == (2, 1)

    assert [(r.category, r.failed, r.recovered) for r in metrics.by_category] == [
        ("hard", 2, 1),
        ("customer_action", 1, 1),
        ("funds", 4, 4),
        ("maybe_funds", 1, 0),
    ]
    assert metrics.by_category[0].rate.value == Decimal("0.5000")
    # Attempt 1 is the billing run's; 2 is the first attempt after the failure.
    assert [(r.key, r.recovered, r.share.value) for r in metrics.by_attempt] == [
        ("2", 4, Decimal("0.6667")),  # A, C, D, E
        ("3", 1, Decimal("0.1667")),  # F
        ("none", 1, Decimal("0.1667")),  # B paid cash
    ]
    assert [(r.key, r.recovered) for r in metrics.by_channel] == [
        ("retry", 2),  # A, F
        ("card_update", 1),  # D
        ("member", 1),  # C, on the hosted page
        ("front_desk", 1),  # B
        ("staff", 1),  # E
    ]

    # Ten memberships were live on 1 April; G was cancelled for non-payment on 5 May.
    assert (metrics.memberships_at_start, metrics.cancelled_for_nonpayment) == (10, 1)
    assert metrics.involuntary_churn.value == Decimal("0.1000")


@pytest.mark.django_db(transaction=True)
def test_the_api_and_the_dashboard_show_the_same_figures(population, api_as, make_staff):
    api = api_as(roles.OWNER)
    response = api.get(URL, APRIL_AND_MAY)
    assert response.status_code == 200
    body = response.json()
    assert body["recovery_rate"] == {"numerator": 6, "denominator": 8, "rate": 0.75}
    assert body["failed_payment_rate"]["rate"] == 0.8
    assert body["amounts"] == [
        {
            "currency": "THB",
            "failed_amount": 1_200_000,
            "recovered_amount": 950_000,
            "rate": {"numerator": 950_000, "denominator": 1_200_000, "rate": 0.7917},
        }
    ]
    assert body["median_seconds_to_recover"] == 176_400
    assert body["median_time_to_recover"] == "2 01:00:00"
    assert [row["key"] for row in body["by_channel"]] == [
        "retry",
        "card_update",
        "member",
        "front_desk",
        "staff",
    ]
    assert body["involuntary_churn"]["rate"] == 0.1

    # Before the failures: nothing in the cohort, and no rate divides by zero.
    march = api.get(URL, {"start": "2026-03-01", "end": "2026-03-31"}).json()
    assert (march["failed_invoices"], march["recovery_rate"]["rate"]) == (0, None)
    assert march["amounts"] == [] and march["median_time_to_recover"] is None

    owner = Client()
    owner.force_login(make_staff(roles.OWNER, username="owner-admin"))
    queue = owner.get(reverse("admin:dunning_dunningcase_changelist"))
    dashboard = reverse("admin:dunning_dunningcase_metrics")
    assert dashboard in queue.content.decode()
    page = owner.get(dashboard, APRIL_AND_MAY)
    assert page.status_code == 200
    text = page.content.decode()
    for figure in ("80.0%", "75.0%", "฿9,500.00", "79.2% by amount", "2 d 1 h", "10.0%"):
        assert figure in text, figure
    assert "Retry after the member updated the card" in text
    assert owner.get(dashboard).status_code == 200  # the last 30 days by default
    refused = owner.get(dashboard, {"start": "2026-05-31", "end": "2026-04-01"})
    assert "The end must not be before the start." in refused.content.decode()
    far = owner.get(dashboard, {"start": "2026-04-01", "end": "9999-12-31"})
    assert far.status_code == 200
    assert "Choose dates from 2000-01-01 to 2999-12-31." in far.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "query",
    [
        {},
        {"start": "2026-04-01"},
        {"end": "2026-04-30"},
        {"start": "2026-04-31", "end": "2026-05-01"},
        {"start": "April", "end": "2026-05-01"},
        {"start": "2026-05-02", "end": "2026-05-01"},
        {"start": "2026-05-01", "end": "9999-12-31"},
        {"start": "0001-01-01", "end": "2026-05-01"},
    ],
)
def test_bad_or_missing_dates_are_400(api_as, query):
    response = api_as(roles.OWNER).get(URL, query)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"


@pytest.mark.django_db
def test_one_day_is_a_valid_range(api_as):
    response = api_as(roles.OWNER).get(URL, {"start": "2026-05-01", "end": "2026-05-01"})
    assert response.status_code == 200
    assert response.json()["failed_invoices"] == 0


@pytest.mark.django_db
@pytest.mark.parametrize("role", [roles.FRONT_DESK, roles.MANAGER])
def test_only_the_owner_role_sees_the_reports(api_as, make_staff, role):
    assert api_as(role).get(URL, APRIL_AND_MAY).status_code == 403
    client = Client()
    client.force_login(make_staff(role, username=f"{role}-admin".replace(" ", "-")))
    assert client.get(reverse("admin:dunning_dunningcase_metrics")).status_code == 403
    queue = client.get(reverse("admin:dunning_dunningcase_changelist"))
    assert reverse("admin:dunning_dunningcase_metrics") not in queue.content.decode()


@pytest.mark.django_db
def test_anonymous_callers_are_refused(client):
    assert client.get(URL, APRIL_AND_MAY).status_code in (401, 403)


def test_the_selector_refuses_a_reversed_range():
    with pytest.raises(ValueError, match="start"):
        dunning_metrics(dt.date(2026, 5, 2), dt.date(2026, 5, 1))
