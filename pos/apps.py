from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PosConfig(AppConfig):
    name = "pos"
    verbose_name = _("Point of sale")

    def ready(self) -> None:
        # What it holds about a member: exported and erased through members.privacy.
        from .privacy import register_pos

        register_pos()
        from billing import hooks as billing_hooks
        from members import hooks as member_hooks

        from . import desk
        from .services import receipts, sales

        # A PromptPay tender completes its sale when the bank says it is paid.
        if sales.promptpay_paid not in billing_hooks.promptpay_paid:
            billing_hooks.promptpay_paid.append(sales.promptpay_paid)
        # A receipt whose interrupted send never reached the provider goes again, once.
        if receipts.receipt_released not in billing_hooks.notification_released:
            billing_hooks.notification_released.append(receipts.receipt_released)
        # The member page's "Sell" and "Take payment" at the till; the open tills today.
        member_hooks.register(member_hooks.member_page_tools, desk.member_page_tools)
        member_hooks.register(member_hooks.today_sections, desk.today_sections)
