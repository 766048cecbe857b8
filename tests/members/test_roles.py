"""The role matrix: what each staff role can and cannot do."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, Permission

from members import roles

pytestmark = pytest.mark.django_db

# (permission, front desk, manager, owner)
MATRIX = [
    ("members.view_member", True, True, True),
    ("members.add_member", True, True, True),
    ("members.change_member", True, True, True),
    ("members.check_in_member", True, True, True),
    ("members.add_membernote", True, True, True),
    ("members.delete_member", False, False, True),
    ("members.add_agreementversion", False, True, True),
    ("members.change_agreementversion", False, True, True),
    ("members.view_reports", False, False, True),
    ("members.change_gymprofile", False, False, True),
    ("auth.change_user", False, False, True),
    ("django_celery_beat.change_periodictask", False, False, True),
    ("dunning.change_retrypolicy", False, True, True),
    ("dunning.change_paydaycalendar", False, True, True),
]


@pytest.mark.parametrize(("perm", "front_desk", "manager", "owner"), MATRIX)
def test_role_matrix(make_staff, perm, front_desk, manager, owner):
    for role, expected in [
        (roles.FRONT_DESK, front_desk),
        (roles.MANAGER, manager),
        (roles.OWNER, owner),
    ]:
        user = make_staff(role, username=f"{role}-{perm}".replace(" ", "_"))
        assert user.has_perm(perm) is expected, (role, perm)


def test_groups_exist_after_migrate():
    assert set(Group.objects.values_list("name", flat=True)) >= set(roles.ROLES)


def test_owner_has_every_permission():
    roles.sync_roles()
    owner = Group.objects.get(name=roles.OWNER)
    assert owner.permissions.count() == Permission.objects.count()


def test_manager_can_do_everything_the_front_desk_can():
    roles.sync_roles()
    desk = set(Group.objects.get(name=roles.FRONT_DESK).permissions.all())
    manager = set(Group.objects.get(name=roles.MANAGER).permissions.all())
    assert desk and desk < manager


def test_api_enforces_roles(api_as, client, django_user_model):
    url = "/api/v1/members/"
    assert client.get(url).status_code in (401, 403)
    plain = django_user_model.objects.create_user("plain", password="x-pw-123456")
    client.force_login(plain)
    assert client.get(url).status_code == 403
    desk = api_as(roles.FRONT_DESK)
    assert desk.get(url).status_code == 200
    created = desk.post(url, {"first_name": "A", "last_name": "B"}, format="json")
    assert created.status_code == 201
    # Nobody may delete through the API: members are closed, never deleted.
    assert api_as(roles.OWNER).delete(f"{url}{created.json()['id']}/").status_code == 405
