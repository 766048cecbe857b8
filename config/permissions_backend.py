"""Staff permissions read in one statement per request, not two.

Django's ``ModelBackend`` reads a user's own permissions and their groups' in two
queries the first time a request asks ``has_perm``, and keeps them on the user object
(``_perm_cache``).  This backend, listed before it, fills the same cache with one
statement (both sets at once), so ``ModelBackend`` finds it filled and asks nothing.
It answers ``has_perm`` from that set and authenticates nobody (it has no ``get_user``,
so sessions and ``force_login`` never name it).  Superusers and inactive users are left
to ``ModelBackend``, as are the per-source sets (``get_user_permissions``,
``get_group_permissions``), which keep their own caches.
"""

from __future__ import annotations

import functools
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType

from .db import prepared_cursor


@functools.cache
def _sql() -> str:
    user_model = get_user_model()
    user_permissions = user_model.user_permissions.through._meta.db_table
    user_groups = user_model.groups.through._meta.db_table
    group_permissions = Group.permissions.through._meta.db_table
    return (
        f"SELECT ct.app_label, p.codename FROM {Permission._meta.db_table} p "  # noqa: S608 - model metadata
        f"JOIN {ContentType._meta.db_table} ct ON ct.id = p.content_type_id "
        f"WHERE p.id IN (SELECT permission_id FROM {user_permissions} WHERE user_id = %s "
        f"UNION SELECT gp.permission_id FROM {group_permissions} gp "
        f"JOIN {user_groups} ug ON ug.group_id = gp.group_id WHERE ug.user_id = %s)"
    )


def all_permissions(user: Any) -> set[str]:
    """``user``'s permissions, own and from their groups ("app_label.codename")."""
    if not hasattr(user, "_perm_cache"):
        with prepared_cursor() as cursor:
            cursor.execute(_sql(), [user.pk, user.pk])
            user._perm_cache = {f"{app}.{codename}" for app, codename in cursor.fetchall()}
    return user._perm_cache  # type: ignore[no-any-return]


class OneQueryPermissions:
    """See the module's docstring."""

    def authenticate(self, request: Any, **credentials: Any) -> None:
        return None

    def has_perm(self, user: Any, perm: str, obj: Any = None) -> bool:
        if obj is not None or not user.is_active or user.is_anonymous or user.is_superuser:
            return False  # ModelBackend decides, as without this backend
        return perm in all_permissions(user)
