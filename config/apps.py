"""The project's own app configurations."""

from django.contrib.admin.apps import AdminConfig
from django.contrib.auth.signals import user_logged_in


class GymAdminConfig(AdminConfig):
    """Django's admin with ``config.admin.site.GymAdminSite`` as the default site; staff
    sign in to their own language."""

    default_site = "config.admin.site.GymAdminSite"

    def ready(self) -> None:
        super().ready()
        from config.middleware import remember_staff_language  # needs the app registry
        from config.staff_auth import remember_second_factor_need

        user_logged_in.connect(remember_staff_language, dispatch_uid="staff_language")
        user_logged_in.connect(remember_second_factor_need, dispatch_uid="second_factor_need")
