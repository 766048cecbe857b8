"""The API's JSON parser: a body that cannot be read is a 400, whatever is wrong with it."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from rest_framework import parsers
from rest_framework.exceptions import ParseError


class JSONParser(parsers.JSONParser):
    """DRF's parser, plus: a body nested too deeply for Python (``RecursionError``; about
    a thousand ``[`` do it) is a parse error like any other, and the message does not
    repeat the decoder's internals."""

    def parse(self, stream: Any, media_type: Any = None, parser_context: Any = None) -> Any:
        try:
            return super().parse(stream, media_type, parser_context)
        except (ParseError, RecursionError) as exc:
            raise ParseError(_("The body is not valid JSON."), code="parse_error") from exc
