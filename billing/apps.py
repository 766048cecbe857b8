from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class BillingConfig(AppConfig):
    name = "billing"
    verbose_name = _("Billing")

    def ready(self) -> None:
        # What it holds about a member: exported and erased through members.privacy.
        from .privacy import register_billing

        register_billing()
        # Registers the ``__any`` lookup that billing's and dunning's batch queries use.
        from django.core import checks

        import config.db  # noqa: F401
        from members import hooks

        from .promptpay.conf import check_settings

        checks.register(check_settings, "billing")

        from .admin import member_page, today

        # The member page: plan, next payment, balance and card; take a payment, a new
        # card, freeze, cancel, add a membership; the member's memberships and invoices.
        hooks.register(hooks.member_page_tools, member_page.member_page_tools)
        hooks.register(hooks.member_page_facts, member_page.member_page_facts)
        # "Today at the gym": failed payments, sign-ups to collect, this week's changes.
        hooks.register(hooks.today_sections, today.today_sections)

        from .portal import home, menu

        # The portal's home page: the membership and what is owed; the menu's invoices
        # and membership.
        hooks.register(hooks.portal_home_cards, home.portal_home_cards)
        hooks.register(hooks.portal_menu, menu.portal_menu)

        from .audit_text import audit_value_text

        # The audit trail shows prices and fees as money, tax rates as percentages.
        hooks.register(hooks.audit_value_text, audit_value_text)
