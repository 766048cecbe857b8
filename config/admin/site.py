"""The admin site every app registers its screens with."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.contrib import admin
from django.db.models.base import ModelBase
from django.http import HttpRequest, HttpResponseRedirect
from django.urls import URLPattern, URLResolver, path, reverse
from django.utils.translation import gettext_lazy as _

from .. import staff_auth
from . import reports
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
        # Open to the sign-in page too: the switch only sets a preference.  The second
        # factor's pages are open to a user who has signed in with a password only.
        return [
            path("language/", switch_language, name="language"),
            path(
                "second-factor/",
                lambda request: staff_auth.verify(request, self),
                name="second_factor_verify",
            ),
            path(
                "second-factor/setup/",
                lambda request: staff_auth.setup(request, self),
                name="second_factor_setup",
            ),
            path("second-factor/sign-out/", staff_auth.cancel, name="second_factor_cancel"),
            path(
                "reports/",
                self.admin_view(lambda request: reports.dashboard_view(request, self)),
                name="reports",
            ),
            path(
                "reports/members/",
                self.admin_view(lambda request: reports.members_view(request, self)),
                name="reports_members",
            ),
            path(
                "reports/<slug:table>.csv",
                self.admin_view(reports.csv_view),
                name="reports_csv",
            ),
            *super().get_urls(),
        ]

    def has_permission(self, request: HttpRequest) -> bool:
        """Staff, and past the second factor when their role needs one."""
        return super().has_permission(request) and not staff_auth.second_factor_missing(request)

    def login(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> Any:
        """After the password, the second factor: the code, or setting one up first."""
        if request.user.is_authenticated and staff_auth.second_factor_missing(request):
            target = request.POST.get("next") or request.GET.get("next") or ""
            query = f"?{urlencode({'next': target})}" if target else ""
            return HttpResponseRedirect(reverse("admin:second_factor_verify") + query)
        response = super().login(request, extra_context)
        if (
            request.method == "POST"
            and request.user.is_authenticated
            and staff_auth.second_factor_missing(request)
        ):
            target = request.POST.get("next") or ""
            query = f"?{urlencode({'next': target})}" if target else ""
            return HttpResponseRedirect(reverse("admin:second_factor_verify") + query)
        return response

    def register(
        self,
        model_or_iterable: ModelBase | Any,
        admin_class: type[admin.ModelAdmin[Any]] | None = None,
        **options: Any,
    ) -> None:
        super().register(
            model_or_iterable, readable_admin(admin_class or admin.ModelAdmin), **options
        )
