"""The project's own app configurations."""

from django.contrib.admin.apps import AdminConfig


class GymAdminConfig(AdminConfig):
    """Django's admin with ``config.admin.site.GymAdminSite`` as the default site."""

    default_site = "config.admin.site.GymAdminSite"
