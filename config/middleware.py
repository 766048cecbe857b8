"""The project's own middleware."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils import timezone

from . import clock


class GymTimeZoneMiddleware:
    """The admin shows and reads times in the gym's time zone (``GYM_TIME_ZONE``).

    The database stays in UTC, and so does the API; the front desk sees and types the
    gym's wall-clock time, as its feed and lists already show it.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.admin = ""  # the admin's prefix, looked up once (every request passes here)

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not self.admin:
            self.admin = reverse("admin:index")
        if not request.path_info.startswith(self.admin):
            return self.get_response(request)
        with timezone.override(clock.gym_tz()):
            return self.get_response(request)
