"""The member's QR pass, full screen, changing on its own.

The code a pass shows changes every ``ACCESS_QR_STEP_SECONDS`` and the gate accepts it for
``ACCESS_QR_SKEW_STEPS`` steps either side, so a screenshot stops opening the gate within
a minute (30 s steps, one step of grace).  The page asks for the next code just as the
step turns (``pass_code``, JSON), and shows a ticking clock so the desk can tell a live
pass from a picture of one.  The web app manifest lets a member put the pass on their
home screen.
"""

from __future__ import annotations

import base64
import io

import qrcode
import qrcode.image.svg
from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.templatetags.static import static
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from config import clock
from members.portal.access import member_in_reach, member_required
from members.templatetags.portal import gym_profile

from ..services.credentials import member_qr_pass, qr_pass_current


def _qr_data_uri(text: str) -> str:
    image = qrcode.make(
        text,
        image_factory=qrcode.image.svg.SvgPathImage,
        box_size=10,
        border=2,
        error_correction=qrcode.constants.ERROR_CORRECT_M,
    )
    buffer = io.BytesIO()
    image.save(buffer)
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode()


def _current(request: HttpRequest, member_id: int | None) -> dict[str, object]:
    member = member_in_reach(request, member_id if member_id is not None else request.member.pk)  # type: ignore[attr-defined]
    credential = member_qr_pass(member)
    now = clock.now()
    step = int(settings.ACCESS_QR_STEP_SECONDS)
    elapsed = int(now.timestamp()) % step
    return {
        "member": member,
        "src": _qr_data_uri(qr_pass_current(credential, now)),
        "refresh_in": step - elapsed,
        "step_seconds": step,
    }


@member_required
@require_GET
def pass_page(request: HttpRequest, member_id: int | None = None) -> HttpResponse:
    request.portal_section = "pass"  # type: ignore[attr-defined]
    current = _current(request, member_id)
    code_url = (
        reverse("access_portal:dependant_pass_code", args=[member_id])
        if member_id is not None
        else reverse("access_portal:pass_code")
    )
    return render(request, "access_control/portal/pass.html", {**current, "code_url": code_url})


@member_required
@require_GET
def pass_code(request: HttpRequest, member_id: int | None = None) -> JsonResponse:
    """The code to show now, and in how many seconds the next one is due."""
    current = _current(request, member_id)
    return JsonResponse({"src": current["src"], "refresh_in": current["refresh_in"]})


@require_GET
def manifest(request: HttpRequest) -> JsonResponse:
    """The web app manifest: "Add to home screen" opens the pass, full screen."""
    gym = gym_profile(request)
    body = {
        "name": _("%(gym)s pass") % {"gym": gym.name},
        "short_name": _("Gym pass"),
        "start_url": reverse("access_portal:pass"),
        "scope": "/portal/",
        "display": "standalone",
        "orientation": "portrait",
        "background_color": "#ffffff",
        "theme_color": "#0969da",
        "icons": [
            {
                "src": static("access_control/pass-icon.svg"),
                "sizes": "any",
                "type": "image/svg+xml",
                "purpose": "any",
            }
        ],
    }
    response = JsonResponse(body, json_dumps_params={"ensure_ascii": False})
    response["Content-Type"] = "application/manifest+json"
    return response
