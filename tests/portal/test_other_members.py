"""Every portal URL of the shell and the pass, tried with another member's ids: 404, the
same answer as for an id that does not exist."""

from __future__ import annotations

import pytest
from django.urls import reverse

from members import services
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db

# Portal URLs that name a member: each answers 404 for anyone outside the family.
MEMBER_URLS = [
    "portal:dependant",
    "access_portal:dependant_pass",
    "access_portal:dependant_pass_code",
]


@pytest.mark.parametrize("name", MEMBER_URLS)
def test_another_members_id_answers_404(name, member_client, portal_member, make_portal_member):
    stranger = make_portal_member()
    neighbour_child = MemberFactory()
    household = services.household_create(payer=stranger, name="Next door")
    services.household_add_member(household, neighbour_child)
    for member_id in (stranger.pk, neighbour_child.pk, 987654321):
        assert member_client.get(reverse(name, args=[member_id])).status_code == 404


@pytest.mark.parametrize("name", MEMBER_URLS)
def test_a_payer_opens_their_own_dependants(name, member_client, portal_member):
    child = MemberFactory(guardian=portal_member, date_of_birth=None)
    household = services.household_create(payer=portal_member, name="Family")
    services.household_add_member(household, child)
    assert member_client.get(reverse(name, args=[child.pk])).status_code == 200


def test_a_members_own_pages_show_only_their_own_data(
    member_client, portal_member, make_portal_member
):
    other = make_portal_member(first_name="Zebedee")
    services.privacy_request_make(other, kind="erasure", note="Other's secret note")
    for name in ("portal:home", "portal:profile", "portal:privacy", "access_portal:pass"):
        html = member_client.get(reverse(name)).content.decode()
        assert "Zebedee" not in html and "Other's secret note" not in html
        assert other.email not in html
