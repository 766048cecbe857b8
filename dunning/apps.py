from django.apps import AppConfig
from django.db.models.signals import post_delete, post_save
from django.utils.translation import gettext_lazy as _


class DunningConfig(AppConfig):
    name = "dunning"
    verbose_name = _("Dunning")

    def ready(self) -> None:
        # What it holds about a member: exported and erased through members.privacy.
        from .privacy import register_dunning

        register_dunning()
        from anymail.signals import tracking

        from . import hooks, receivers
        from .declines import decline_table_forget
        from .models import DeclineRule

        # Billing never imports dunning: dunning puts itself into billing's hooks.
        hooks.register()
        # The classifier's cached table goes stale when staff edit a rule.
        post_save.connect(decline_table_forget, sender=DeclineRule, dispatch_uid="dunning.rules")
        post_delete.connect(decline_table_forget, sender=DeclineRule, dispatch_uid="dunning.rules-")
        tracking.connect(receivers.anymail_tracking, dispatch_uid="dunning.anymail_tracking")

        from members import hooks as member_hooks

        from . import desk

        # The member page: what is overdue, a pay link to send, the dunning timeline;
        # "Today at the gym": the cases with an action due today.
        member_hooks.register(member_hooks.member_page_tools, desk.member_page_tools)
        member_hooks.register(member_hooks.member_page_facts, desk.member_page_facts)
        member_hooks.register(member_hooks.today_sections, desk.today_sections)
