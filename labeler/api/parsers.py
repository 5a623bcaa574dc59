"""The API's JSON parser: DRF's, plus a clear 400 for bodies the standard library refuses in
ways DRF does not expect — nesting deeper than the parser's recursion limit (RecursionError)
and, defensively, any other ValueError (numbers with thousands of digits)."""

from __future__ import annotations

from rest_framework import exceptions
from rest_framework.parsers import JSONParser


class SafeJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError as error:
            raise exceptions.ParseError("JSON parse error - nested too deeply.") from error
