"""Member sign-in with django-allauth: who may sign in to the portal, and what happens
when they do.

Only members sign in here, by email (``email`` credential, never ``username``), with a
password or a one-time code sent by email.  Staff never do: the backend refuses them
with the same answer as a wrong password (so no staff password can be tried from the
portal), and a code sent to a staff address signs nobody in.  Staff sign in to the admin
(``config.staff_auth``), and a member's session opens nothing there.
"""

from __future__ import annotations

from typing import Any

from allauth.account.adapter import DefaultAccountAdapter
from allauth.account.auth_backends import AuthenticationBackend
from allauth.account.internal.stagekit import clear_login
from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.urls import reverse

from ..models import Member
from .access import is_portal_user


def _member_language(user: Any) -> str:
    return str(Member.objects.filter(user=user).values_list("language", flat=True).first() or "")


# The backend a member's session is signed in with (``django.contrib.auth.login(...,
# backend=MEMBER_BACKEND)`` after joining online).
MEMBER_BACKEND = "members.portal.auth.MemberAuthenticationBackend"


def _is_member_login(user: Any) -> bool:
    return (
        not user.is_staff
        and not user.is_superuser
        and Member.objects.filter(user_id=user.pk).exists()
    )


class MemberAuthenticationBackend(AuthenticationBackend):
    """allauth's email-and-password backend, for members' logins only."""

    def authenticate(  # type: ignore[override]
        self, request: HttpRequest | None, **credentials: Any
    ) -> Any:
        if credentials.get("username") or not credentials.get("email"):
            return None  # the admin's and the API's sign-ins are not ours
        return super().authenticate(request, **credentials)

    def _check_password(self, user: Any, password: str) -> Any:
        # A staff login is not looked at, right password or wrong: the answer is the same
        # as for an unknown address (allauth would otherwise say "inactive").
        if user is not None and not _is_member_login(user):
            return None
        return super()._check_password(user, password)

    def user_can_authenticate(self, user: Any) -> bool:
        return bool(super().user_can_authenticate(user) and _is_member_login(user))

    def get_user(self, user_id: Any) -> Any:
        user = super().get_user(user_id)
        return user if user is not None and is_portal_user(user) else None


class PortalAccountAdapter(DefaultAccountAdapter):
    """The portal's rules on top of allauth's: no public sign-up (a member gets a login
    by joining online or by the desk's invite), members only, the member's language."""

    def is_open_for_signup(self, request: HttpRequest) -> bool:
        return False

    def pre_login(self, request: HttpRequest, user: Any, **kwargs: Any) -> HttpResponse | None:
        if not is_portal_user(user) or not Member.objects.filter(user=user).exists():
            clear_login(request)
            return self.respond_user_inactive(request, user)
        return super().pre_login(request, user, **kwargs)

    def post_login(self, request: HttpRequest, user: Any, **kwargs: Any) -> HttpResponse:
        response = super().post_login(request, user, **kwargs)
        language = _member_language(user)
        if language:
            set_language_cookie(response, language)
        return response

    def get_login_redirect_url(self, request: HttpRequest) -> str:
        return reverse("portal:home")

    def get_from_email(self) -> str:
        return str(settings.DEFAULT_FROM_EMAIL)


def set_language_cookie(response: HttpResponseBase, language: str) -> None:
    response.set_cookie(
        settings.LANGUAGE_COOKIE_NAME,
        language,
        max_age=settings.LANGUAGE_COOKIE_AGE,
        path=settings.LANGUAGE_COOKIE_PATH,
        domain=settings.LANGUAGE_COOKIE_DOMAIN,
        secure=settings.LANGUAGE_COOKIE_SECURE,
        httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
        samesite=settings.LANGUAGE_COOKIE_SAMESITE,
    )


def login_email_changed(sender: Any, user: Any, to_email_address: Any, **kwargs: Any) -> None:
    """allauth's ``email_changed``: the member confirmed a new sign-in address."""
    from ..services import member_login_email_confirmed

    member_login_email_confirmed(user, to_email_address.email)
