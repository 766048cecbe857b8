from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class MembersConfig(AppConfig):
    name = "members"
    verbose_name = _("Members")

    def ready(self) -> None:
        from allauth.account.signals import email_changed

        from . import hooks, roles, today
        from .portal import auth, menu
        from .privacy.erasure import register_blocker
        from .privacy.members_data import member_blockers, register_members

        # A member's confirmed new sign-in address becomes the address the gym writes to.
        email_changed.connect(auth.login_email_changed, dispatch_uid="members.login_email")

        # Later apps add permissions in their own migrations; keep the role groups whole.
        post_migrate.connect(roles.sync_after_migrate, dispatch_uid="members.sync_roles")
        # "Today at the gym" shows today's birthdays; other apps add their own sections.
        hooks.register(hooks.today_sections, today.today_sections)
        # The portal's menu starts with the shell's own pages; other apps add theirs.
        hooks.register(hooks.portal_menu, menu.portal_menu)
        # What members hold about a member (docs/privacy.md); other apps register theirs.
        register_members()
        register_blocker(member_blockers)
        from .privacy.admin_views import privacy_tool

        hooks.register(hooks.member_page_tools, privacy_tool)
