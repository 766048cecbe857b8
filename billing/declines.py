"""The default decline categories from the card networks' rules (see declines.md).

Dunning keeps an editable copy of this table; billing uses this one until dunning
registers its classifier.
"""

from __future__ import annotations

HARD = "hard"
CUSTOMER_ACTION = "customer_action"
FUNDS = "funds"
TEMPORARY = "temporary"
GENERIC = "generic"
PROCESSING = "processing"
# Dunning's category for "do not honor": often low funds (its editable table's own).
MAYBE_FUNDS = "maybe_funds"
# After a decline of these categories the card has no money now: its other charges in
# the same run are not sent (``billing.services.payments.attempts_process``).
LOW_FUNDS = frozenset({FUNDS, MAYBE_FUNDS})

DECLINE_CATEGORIES: dict[str, str] = {}
for _category, _codes in {
    HARD: (
        "lost_card stolen_card pickup_card restricted_card fraudulent merchant_blacklist "
        "invalid_account incorrect_number invalid_number revocation_of_authorization "
        "revocation_of_all_authorizations stop_payment_order do_not_try_again "
        "security_violation transaction_not_allowed not_permitted service_not_allowed "
        "card_not_supported currency_not_supported new_account_information_available"
    ),
    CUSTOMER_ACTION: (
        "expired_card incorrect_cvc invalid_cvc invalid_expiry_month invalid_expiry_year "
        "incorrect_zip authentication_required incorrect_pin invalid_pin pin_try_exceeded "
        "offline_pin_required online_or_offline_pin_required"
    ),
    FUNDS: "insufficient_funds card_velocity_exceeded withdrawal_count_limit_exceeded",
    TEMPORARY: (
        "try_again_later issuer_not_available reenter_transaction approve_with_id "
        "processing_error duplicate_transaction"
    ),
    GENERIC: "generic_decline do_not_honor call_issuer no_action_taken testmode_decline",
}.items():
    for _code in _codes.split():
        DECLINE_CATEGORIES[_code] = _category

ADVICE_OVERRIDES = {
    "do_not_try_again": HARD,
    "confirm_card_data": CUSTOMER_ACTION,
    "try_again_later": TEMPORARY,
}
# ISO 8583 response codes.
NETWORK_CATEGORIES = {
    **dict.fromkeys(["04", "07", "12", "14", "15", "41", "43", "46", "57", "R0", "R1", "R3"], HARD),
    "51": FUNDS,
    "54": CUSTOMER_ACTION,
    "91": TEMPORARY,
    "96": TEMPORARY,
}
# Mastercard merchant advice codes that forbid any retry.
MASTERCARD_NO_RETRY_ADVICE = {"03", "21"}


def default_category(decline_code: str, network_code: str = "", advice_code: str = "") -> str:
    if advice_code in ADVICE_OVERRIDES:
        return ADVICE_OVERRIDES[advice_code]
    if advice_code in MASTERCARD_NO_RETRY_ADVICE:
        return HARD
    if decline_code in DECLINE_CATEGORIES:
        return DECLINE_CATEGORIES[decline_code]
    if network_code in NETWORK_CATEGORIES:
        return NETWORK_CATEGORIES[network_code]
    return GENERIC if decline_code or network_code else PROCESSING
