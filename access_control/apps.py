from django.apps import AppConfig
from django.db.models.signals import post_delete, post_save
from django.utils.translation import gettext_lazy as _


class AccessControlConfig(AppConfig):
    name = "access_control"
    verbose_name = _("Access control")

    def ready(self) -> None:
        # What it holds about a member: exported and erased through members.privacy.
        from .privacy import register_access_control

        register_access_control()
        from members import hooks

        from .admin import member_page
        from .admin.search import card_search_terms
        from .models import Device, Door, Location, Zone
        from .services.devices import configuration_changed

        # Cached devices carry their zone and location: any edit, by a service or the
        # admin, must reach the gate at once (a revoked key most of all).
        for model in (Location, Zone, Door, Device):
            for signal in (post_save, post_delete):
                signal.connect(
                    configuration_changed,
                    sender=model,
                    dispatch_uid=f"access_control.config.{signal is post_save}.{model.__name__}",
                )
        # The member list finds a member by any of their card numbers, in any form.
        hooks.register(hooks.member_search_terms, card_search_terms)
        # The member page checks the member in, shows the last visit and opens the
        # access log; "Today at the gym" shows check-ins and who is inside.
        hooks.register(hooks.member_page_tools, member_page.member_page_tools)
        hooks.register(hooks.member_page_facts, member_page.member_page_facts)
        hooks.register(hooks.today_sections, member_page.today_sections)

        from .portal import home

        # The member portal: the QR pass in the menu and on the home page.
        hooks.register(hooks.portal_menu, home.portal_menu)
        hooks.register(hooks.portal_home_cards, home.portal_home_cards)
