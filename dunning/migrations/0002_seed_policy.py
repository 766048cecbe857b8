"""The default decline policy (shared/reference/declines.md), retry policy and ladder.

Written out here, not imported, so this migration always seeds the same data.
"""

from django.db import migrations

DECLINE_CODES = {
    "hard": (
        "lost_card stolen_card pickup_card restricted_card fraudulent merchant_blacklist "
        "invalid_account incorrect_number invalid_number revocation_of_authorization "
        "revocation_of_all_authorizations stop_payment_order do_not_try_again "
        "security_violation transaction_not_allowed not_permitted service_not_allowed "
        "card_not_supported currency_not_supported new_account_information_available"
    ),
    "customer_action": (
        "expired_card incorrect_cvc invalid_cvc invalid_expiry_month invalid_expiry_year "
        "incorrect_zip authentication_required incorrect_pin invalid_pin pin_try_exceeded "
        "offline_pin_required online_or_offline_pin_required no_payment_method"
    ),
    "funds": "insufficient_funds card_velocity_exceeded withdrawal_count_limit_exceeded",
    "temporary": (
        "try_again_later issuer_not_available reenter_transaction approve_with_id "
        "processing_error duplicate_transaction"
    ),
    "generic": "generic_decline do_not_honor call_issuer no_action_taken testmode_decline",
}
NOTES = {
    "new_account_information_available": "Waits for the card updater or a new card.",
    "processing_error": "From the issuer; our own failures have no code (processing).",
    "duplicate_transaction": "Check the first charge before any retry.",
    "no_payment_method": "Billing's code when no card is on file.",
}
NETWORK_CODES = {
    **dict.fromkeys(
        ["04", "07", "12", "14", "15", "41", "43", "46", "57", "R0", "R1", "R3"], "hard"
    ),
    "51": "funds",
    "54": "customer_action",
    "91": "temporary",
    "96": "temporary",
}
ADVICE_CODES = {
    "do_not_try_again": ("hard", "Stripe advice: never retry."),
    "confirm_card_data": ("customer_action", "Stripe advice: the member must confirm the card."),
    "try_again_later": ("temporary", "Stripe advice: retry later."),
    "03": ("hard", "Mastercard merchant advice 03: never retry."),
    "21": ("hard", "Mastercard merchant advice 21: payment cancelled, never retry."),
}

# (position, name, day, template, email, sms, effects)
LADDER = [
    (10, "Failed-payment notice", 0, "failed_notice", True, True, {}),
    (20, "Reminder", 3, "reminder", True, False, {}),
    (30, "Access warning", 7, "access_warning", True, True, {"warn_at_gate": True}),
    (
        40,
        "Access suspended",
        10,
        "access_suspended",
        True,
        True,
        {"suspend_access": True, "block_bookings": True},
    ),
    (50, "Final notice", 14, "final_notice", True, True, {}),
    (
        60,
        "Cancelled and sent to collections",
        30,
        "cancelled",
        True,
        False,
        {"cancel_membership": True, "mark_uncollectible": True, "flag_collections": True},
    ),
]


def seed(apps, schema_editor):
    rule = apps.get_model("dunning", "DeclineRule")
    rows = []
    for category, codes in DECLINE_CODES.items():
        for code in codes.split():
            rows.append(rule(kind="decline", code=code, category=category, note=NOTES.get(code, "")))
    for code, category in NETWORK_CODES.items():
        rows.append(rule(kind="network", code=code, category=category))
    for code, (category, note) in ADVICE_CODES.items():
        rows.append(rule(kind="advice", code=code, category=category, note=note))
    rule.objects.bulk_create(rows, ignore_conflicts=True)

    policy = apps.get_model("dunning", "RetryPolicy")
    if not policy.objects.filter(plan__isnull=True).exists():
        policy.objects.create(
            name="Default: 8 retries within 14 days", mode="smart", max_attempts=8, window_days=14
        )

    step = apps.get_model("dunning", "LadderStep")
    if not step.objects.filter(plan__isnull=True).exists():
        step.objects.bulk_create(
            step(
                plan=None,
                position=position,
                name=name,
                days_since_failure=day,
                template=template,
                send_email=email,
                send_sms=sms,
                **effects,
            )
            for position, name, day, template, email, sms, effects in LADDER
        )


def unseed(apps, schema_editor):
    apps.get_model("dunning", "LadderStep").objects.filter(plan__isnull=True).delete()
    apps.get_model("dunning", "RetryPolicy").objects.filter(plan__isnull=True).delete()
    apps.get_model("dunning", "DeclineRule").objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [("dunning", "0001_initial")]

    operations = [migrations.RunPython(seed, unseed)]
