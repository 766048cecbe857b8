"""The admin site every app registers its screens with."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models.base import ModelBase
from django.urls import URLPattern, URLResolver, path
from django.utils.translation import gettext_lazy as _

from .language import switch_language
from .readable import EMPTY, readable_admin


class GymAdminSite(admin.AdminSite):
    """Django's admin site, in the desk's language, with every screen made readable
    (``config.admin.readable``): apps register plain ModelAdmins and get money, rates and
    dates shown as people read them."""

    site_header = _("Gym front desk")
    site_title = _("Gym front desk")
    index_title = _("Today at the gym")
    # "View site" would open a page that does not exist yet: the member portal comes
    # later.  Set this to the portal's address once it does.
    site_url = None
    empty_value_display = EMPTY

    def get_urls(self) -> list[URLResolver | URLPattern]:
        # Open to the sign-in page too: the switch only sets a preference.
        return [path("language/", switch_language, name="language"), *super().get_urls()]

    def register(
        self,
        model_or_iterable: ModelBase | Any,
        admin_class: type[admin.ModelAdmin[Any]] | None = None,
        **options: Any,
    ) -> None:
        super().register(
            model_or_iterable, readable_admin(admin_class or admin.ModelAdmin), **options
        )
