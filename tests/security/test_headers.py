"""The headers every page sends: a Content Security Policy on the pages members open,
HSTS, frame denial and a referrer policy that keeps our own forms' origin; and the
licence and security policy files the project ships."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse

from dunning.links import make_token
from members.models import GymProfile
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]


def _directives(header: str) -> dict[str, list[str]]:
    parts = [p.strip().split() for p in header.split(";") if p.strip()]
    return {p[0]: p[1:] for p in parts}


def test_the_pay_page_carries_a_nonce_csp_and_its_styles_the_nonce():
    GymProfile.objects.create(name="Lumpini Fitness")
    member = MemberFactory()
    # A link to an invoice that does not exist: the page's own error screen, same template.
    response = Client().get(reverse("dunning:pay", args=[make_token(member.pk, 999_999)]))
    policy = _directives(response["Content-Security-Policy"])
    nonce = re.search(r"'nonce-([^']+)'", response["Content-Security-Policy"]).group(1)
    assert policy["default-src"] == ["'self'"]
    assert f"'nonce-{nonce}'" in policy["script-src"]
    assert "'unsafe-inline'" not in policy["script-src"] + policy["style-src"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["form-action"] == ["'self'"]
    assert policy["object-src"] == ["'none'"]
    html = response.content.decode()
    assert f'<style nonce="{nonce}">' in html
    assert "style=" not in html  # inline style attributes would be refused
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Frame-Options"] == "DENY"


def test_each_response_gets_a_fresh_nonce():
    member = MemberFactory()
    url = reverse("dunning:pay", args=[make_token(member.pk, 1)])
    first = Client().get(url)["Content-Security-Policy"]
    second = Client().get(url)["Content-Security-Policy"]
    assert first != second


def test_the_sandbox_bank_page_has_the_policy_too():
    response = Client().get("/sandbox-bank/promptpay/no-such-payment/")
    assert "Content-Security-Policy" in response


def test_the_admin_is_framed_by_no_one_and_sent_over_https_only(settings):
    response = Client().get(reverse("admin:login"), secure=True)
    assert response.status_code == 200
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Content-Type-Options"] == "nosniff"
    hsts = response["Strict-Transport-Security"]
    assert f"max-age={settings.SECURE_HSTS_SECONDS}" in hsts
    assert "includeSubDomains" in hsts


def test_the_licence_is_the_agpl_and_security_md_says_how_to_report():
    licence = (ROOT / "LICENSE").read_text()
    assert licence.lstrip().startswith("GNU AFFERO GENERAL PUBLIC LICENSE")
    assert "Version 3, 19 November 2007" in licence
    assert "13. Remote Network Interaction; Use with the GNU General Public License." in licence
    assert "END OF TERMS AND CONDITIONS" in licence
    security = (ROOT / "SECURITY.md").read_text()
    assert "vulnerab" in security.lower()
    assert "privately" in security
