"""The Redoc page's script is ours: the sidecar's bundle without Redocly's CDN logo."""

from __future__ import annotations

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def test_redoc_loads_our_bundle_which_names_nothing_outside():
    client = Client()
    page = client.get("/api/redoc/").content.decode()
    assert 'src="/api/redoc/bundles/redoc.standalone.js"' in page
    bundle = client.get("/api/redoc/bundles/redoc.standalone.js")
    assert bundle.status_code == 200 and bundle["Content-Type"].startswith("text/javascript")
    body = bundle.content.decode()
    assert "cdn.redoc.ly" not in body
