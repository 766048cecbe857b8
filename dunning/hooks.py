"""What dunning registers into ``billing.hooks`` (see ``DunningConfig.ready``).

Billing calls these after its transactions commit.  A failure in dunning must never
undo or interrupt billing's work (a billing run, a payment at the desk), so each entry
point logs and swallows its own errors, unless ``DUNNING_HOOK_ERRORS_RAISE`` is set
(the test suite sets it, so a broken hook fails loudly there).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from . import conf

if TYPE_CHECKING:
    from billing.models import Invoice, PaymentAttempt, PaymentMethod

logger = logging.getLogger(__name__)
F = TypeVar("F", bound=Callable[..., Any])


def _never_breaks_billing(func: F) -> F:
    @functools.wraps(func)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except Exception:
            if conf.hook_errors_raise():
                raise
            logger.exception("Dunning hook %s failed", func.__name__)
            return None

    return guarded  # type: ignore[return-value]


@_never_breaks_billing
def on_payment_failed(attempt: PaymentAttempt) -> None:
    from .services.cases import case_record_failure

    case_record_failure(attempt)


@_never_breaks_billing
def on_payments_failed(attempts: list[PaymentAttempt]) -> None:
    from .services.cases import cases_record_failures

    cases_record_failures(attempts)


def on_invoices_paid(invoices: list[Invoice]) -> None:
    """Close the paid invoices' cases.  Never lost: a deadlock is retried at once
    (``retried_on_conflict``); any other failure hands the invoices to the
    ``recover_invoices`` task, which Celery retries until the cases close (and the run
    closes any case whose invoice is paid, as a last resort)."""
    from .services.messages import retried_on_conflict
    from .services.recovery import invoices_recovered

    try:
        retried_on_conflict(lambda: invoices_recovered(invoices))
    except Exception:
        if conf.hook_errors_raise():
            raise
        logger.exception("Dunning's payment hook failed; handed to a retrying task")
        _recover_later([invoice.pk for invoice in invoices])


def _recover_later(invoice_ids: list[int]) -> None:
    try:
        from .tasks import recover_invoices

        recover_invoices.apply_async((invoice_ids,), countdown=5)
    except Exception:  # the broker is down: the run's safety net closes the cases
        logger.exception("Could not queue the recovery of invoices %s", invoice_ids[:20])


@_never_breaks_billing
def on_payment_method_updated(method: PaymentMethod) -> None:
    from .services.cases import advance_soon
    from .services.retries import retry_after_method_update

    retried = retry_after_method_update(method)
    if retried:
        advance_soon(retried)


def classify_decline(decline_code: str, network_code: str, advice_code: str) -> str:
    """The classifier billing calls for each decline; falls back to billing's table."""
    try:
        from .declines import classify

        return classify(decline_code, network_code, advice_code)
    except Exception:
        if conf.hook_errors_raise():
            raise
        logger.exception("Dunning's decline classifier failed; using billing's defaults")
        from billing.declines import default_category

        return default_category(decline_code, network_code, advice_code)


def cards_blocked(fingerprints: set[str]) -> set[str]:
    """``billing.hooks.card_blockers``: cards with a decline after which none is charged.

    Not guarded like the others: billing asks inside its own transaction and must not
    charge a card it could not check.
    """
    from .caps import credentials_dead

    return credentials_dead(fingerprints)


def register() -> None:
    """Put dunning's hooks into billing's lists, once."""
    from billing import hooks

    for hook_list, function in (
        (hooks.payments_failed, on_payments_failed),
        (hooks.invoices_paid, on_invoices_paid),
        (hooks.payment_method_updated, on_payment_method_updated),
        (hooks.decline_classifiers, classify_decline),
        (hooks.card_blockers, cards_blocked),
    ):
        if function not in hook_list:
            hook_list.append(function)  # type: ignore[arg-type]
