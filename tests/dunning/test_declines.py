"""The decline policy: every code has a category, advice codes override, staff can edit."""

from __future__ import annotations

import pytest

from billing import hooks
from billing.declines import DECLINE_CATEGORIES, NETWORK_CATEGORIES
from dunning.declines import classify
from dunning.models import CodeKind, DeclineCategory, DeclineRule

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("decline", "network", "advice", "category"),
    [
        ("insufficient_funds", "51", "", "funds"),
        ("lost_card", "41", "do_not_try_again", "hard"),
        ("expired_card", "54", "", "customer_action"),
        ("issuer_not_available", "91", "try_again_later", "temporary"),
        # "Do not honor" is timed as partly funds (issue 18); other generic codes stay.
        ("do_not_honor", "05", "", "maybe_funds"),
        ("", "05", "", "maybe_funds"),
        ("generic_decline", "05", "", "generic"),
        # Stripe's advice code overrides the decline code's category.
        ("do_not_honor", "05", "do_not_try_again", "hard"),
        ("do_not_honor", "05", "try_again_later", "temporary"),
        ("insufficient_funds", "51", "confirm_card_data", "customer_action"),
        ("incorrect_cvc", "N7", "confirm_card_data", "customer_action"),
        # Mastercard merchant advice 03 and 21 forbid any retry.
        ("do_not_honor", "05", "03", "hard"),
        ("do_not_honor", "05", "21", "hard"),
        # Only a network code: ISO 8583 decides.
        ("", "51", "", "funds"),
        ("", "14", "", "hard"),
        ("", "96", "", "temporary"),
        # Unknown reasons are generic; no code at all is our side (processing).
        ("some_new_code", "", "", "generic"),
        ("", "", "", "processing"),
    ],
)
def test_codes_map_to_their_category(decline, network, advice, category):
    assert classify(decline, network, advice) == category


def test_the_seeded_table_covers_every_code_in_declines_md():
    decline_rules = dict(
        DeclineRule.objects.filter(kind=CodeKind.DECLINE).values_list("code", "category")
    )
    # Dunning times "do not honor" (decline code and network code 05) as partly funds;
    # billing's built-in table, used only without dunning, keeps it generic.
    for code, category in {**DECLINE_CATEGORIES, "do_not_honor": "maybe_funds"}.items():
        assert decline_rules[code] == category
    network_rules = dict(
        DeclineRule.objects.filter(kind=CodeKind.NETWORK).values_list("code", "category")
    )
    assert network_rules == {**NETWORK_CATEGORIES, "05": "maybe_funds"}


def test_billing_classifies_through_dunnings_table():
    assert hooks.decline_classifiers[-1].__module__ == "dunning.hooks"
    assert hooks.classify_decline("insufficient_funds", "51", "") == DeclineCategory.FUNDS


def test_an_edited_rule_takes_effect_at_once():
    assert classify("card_velocity_exceeded") == "funds"
    rule = DeclineRule.objects.get(kind=CodeKind.DECLINE, code="card_velocity_exceeded")
    rule.category = DeclineCategory.TEMPORARY
    rule.save()
    assert classify("card_velocity_exceeded") == "temporary"
    rule.delete()
    assert classify("card_velocity_exceeded") == "generic"
