"""The API's parsers: a body that cannot be read is a 400, whatever is wrong with it, and
no string in any body reaches a serializer with control or invisible characters in it
(``config.inputs``: one rule for the whole API)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from rest_framework import parsers
from rest_framework.exceptions import ParseError

from config.inputs import text_problem

MAX_DEPTH = 20


def refuse_unclean_text(data: Any) -> None:
    """A 400 naming each field whose text (or key) holds a control or format character.

    Line breaks and tabs pass here (a reason or a note may have them); single-line
    fields refuse them in their own validation."""
    errors: dict[str, list[ValidationError]] = {}

    def walk(value: Any, name: str, depth: int) -> None:
        if depth > MAX_DEPTH:
            return
        if isinstance(value, str):
            problem = text_problem(value, multiline=True)
            if problem is not None:
                errors.setdefault(name or "non_field_errors", [problem])
        elif isinstance(value, dict):
            for key, item in value.items():
                key_name = f"{name}.{key}" if name else str(key)
                if isinstance(key, str) and text_problem(key, multiline=False) is not None:
                    errors.setdefault(name or "non_field_errors", [text_problem(key)])  # type: ignore[list-item]
                    continue
                walk(item, key_name, depth + 1)
        elif isinstance(value, list | tuple):
            for item in value:
                walk(item, name, depth + 1)

    if hasattr(data, "lists"):  # a QueryDict from a form or multipart body
        walk({key: values for key, values in data.lists()}, "", 0)
    else:
        walk(data, "", 0)
    if errors:
        raise ValidationError(errors)


class JSONParser(parsers.JSONParser):
    """DRF's parser, plus: a body nested too deeply for Python (``RecursionError``; about
    a thousand ``[`` do it) is a parse error like any other, and the message does not
    repeat the decoder's internals; and unclean text is refused."""

    def parse(self, stream: Any, media_type: Any = None, parser_context: Any = None) -> Any:
        try:
            data = super().parse(stream, media_type, parser_context)
        except (ParseError, RecursionError) as exc:
            raise ParseError(_("The body is not valid JSON."), code="parse_error") from exc
        refuse_unclean_text(data)
        return data


class FormParser(parsers.FormParser):
    def parse(self, stream: Any, media_type: Any = None, parser_context: Any = None) -> Any:
        data = super().parse(stream, media_type, parser_context)
        refuse_unclean_text(data)
        return data


class MultiPartParser(parsers.MultiPartParser):
    def parse(self, stream: Any, media_type: Any = None, parser_context: Any = None) -> Any:
        parsed = super().parse(stream, media_type, parser_context)
        refuse_unclean_text(parsed.data)
        return parsed


# Endpoints that move money take JSON only (amounts are JSON integers; a form's strings
# are refused anyway): the schema offers no other body.
JSON_ONLY = [JSONParser]
