"""Role permissions for the REST API: the staff role groups decide, per model and method."""

from __future__ import annotations

from typing import Any

from rest_framework import permissions


class RolePermissions(permissions.DjangoModelPermissions):
    """Model permissions from the staff role groups, including ``view`` for reads."""

    perms_map = {
        "GET": ["%(app_label)s.view_%(model_name)s"],
        "OPTIONS": ["%(app_label)s.view_%(model_name)s"],
        "HEAD": ["%(app_label)s.view_%(model_name)s"],
        "POST": ["%(app_label)s.add_%(model_name)s"],
        "PUT": ["%(app_label)s.change_%(model_name)s"],
        "PATCH": ["%(app_label)s.change_%(model_name)s"],
        "DELETE": ["%(app_label)s.delete_%(model_name)s"],
    }

    def has_permission(self, request: Any, view: Any) -> bool:
        if not (request.user and request.user.is_authenticated and request.user.is_staff):
            return False
        required = getattr(view, "required_permission", None)
        if required:
            return bool(request.user.has_perm(required))
        return super().has_permission(request, view)
