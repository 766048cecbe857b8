from tests.portal.conftest import make_portal_member, member_client, portal_member  # noqa: F401
