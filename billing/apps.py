from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class BillingConfig(AppConfig):
    name = "billing"
    verbose_name = _("Billing")

    def ready(self) -> None:
        # Registers the ``__any`` lookup that billing's and dunning's batch queries use.
        from django.core import checks

        import config.db  # noqa: F401
        from members import hooks

        from .promptpay.conf import check_settings

        checks.register(check_settings, "billing")

        from .admin.member_page import member_page_tools

        # The member page links to the member's memberships and invoices.
        if member_page_tools not in hooks.member_page_tools:
            hooks.member_page_tools.append(member_page_tools)
