"""The member page at a Thai front desk: its notes and signatures are named in Thai."""

from __future__ import annotations

import re

import pytest

from members import roles, services
from tests.factories import AgreementVersionFactory, MemberFactory

pytestmark = pytest.mark.django_db


def test_the_notes_and_signatures_on_the_member_page_have_thai_column_names(client, make_staff):
    desk = make_staff(roles.FRONT_DESK)
    client.force_login(desk)
    member = MemberFactory()
    services.note_add(member=member, body="Bring ID", is_alert=True, author=desk)
    services.agreement_sign(
        member=member,
        version=AgreementVersionFactory(),
        signer_name=member.full_name,
        ip_address="203.0.113.9",
    )
    html = client.get(
        f"/admin/members/member/{member.pk}/edit/", HTTP_ACCEPT_LANGUAGE="th"
    ).content.decode()
    columns = re.findall(r'<th class="column-[^"]*">\s*([^<\n]+)', html)
    assert {"เขียนโดย", "เขียนเมื่อ", "ปิดเมื่อ", "ข้อตกลง", "ลงนามโดยผู้ปกครอง"} <= set(columns)
    assert [name for name in columns if re.search("[A-Za-z]", name)] == []
    assert desk.get_username() in html  # who wrote the note
