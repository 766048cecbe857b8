"""The API schema tells the truth about errors.

Every operation documents the answers it can give besides success, each in the API's one
error shape (``Error``: a stable ``code``, a message, field errors): 400 when it takes a
body or query parameters, 401 and 403 when it needs credentials, 404 when its path or a
parameter names a record.  Added here once, by drf-spectacular's post-processing, rather
than on each view.
"""

from __future__ import annotations

from typing import Any

ERROR_SCHEMA = {
    "type": "object",
    "properties": {
        "code": {"type": "string", "description": "Stable: branch on this, never the message."},
        "message": {"type": "string"},
        "reason": {"type": "string"},
        "fields": {
            "type": "object",
            "additionalProperties": {"type": "array", "items": {"type": "string"}},
        },
        "detail": {"type": "object", "additionalProperties": {"type": "string"}},
    },
    "required": ["code", "message"],
}

DESCRIPTIONS = {
    "400": "Invalid input: `invalid` with `fields`, or `parse_error`, `card_number_refused`.",
    "401": "No or bad credentials: `not_authenticated`, `authentication_failed`.",
    "403": "Signed in without the permission: `permission_denied`.",
    "404": "No such record (in the path, or named by a parameter): `not_found`.",
    "413": "The body is too large: `payload_too_large`.",
}


def _error(code: str) -> dict[str, Any]:
    return {
        "description": DESCRIPTIONS[code],
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def add_error_responses(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    components = result.setdefault("components", {}).setdefault("schemas", {})
    components.setdefault("Error", ERROR_SCHEMA)
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            if method not in {"get", "post", "put", "patch", "delete"}:
                continue
            responses = operation.setdefault("responses", {})
            parameters = operation.get("parameters", [])
            wanted = []
            if "requestBody" in operation or any(p.get("in") == "query" for p in parameters):
                wanted.append("400")
            if any(requirement for requirement in operation.get("security", [])):
                wanted += ["401", "403"]
            if "{" in path or any(p.get("in") == "query" for p in parameters):
                wanted.append("404")  # the record in the path, or one a parameter names
            if "requestBody" in operation:
                wanted.append("413")
            for code in wanted:
                responses.setdefault(code, _error(code))
    return result
