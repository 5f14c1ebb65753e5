"""JSON from outside (request bodies, webhook deliveries, form inputs) nests at most
MAX_DEPTH deep. Python's parser recurses, so `[` × 100,000 would exhaust its stack, and a
structure only a little shallower than that would exhaust it later, wherever code walks it
(validation, json.dumps, storing it): past the bound it is a 400 at the door instead."""

import json

from rest_framework import parsers
from rest_framework.exceptions import ParseError

MAX_DEPTH = 100


class TooDeep(ValueError):
    """JSON nested deeper than MAX_DEPTH."""

    def __init__(self):
        super().__init__(f"nested deeper than {MAX_DEPTH} levels")


def loads(text: str | bytes, **options):
    """json.loads, raising TooDeep (a ValueError) past MAX_DEPTH."""
    try:
        value = json.loads(text, **options)
    except RecursionError:
        raise TooDeep() from None
    check_depth(value)
    return value


def check_depth(value) -> None:
    """TooDeep if `value` (parsed JSON) nests deeper than MAX_DEPTH; walked without recursion."""
    level = [value]
    for _ in range(MAX_DEPTH):
        level = [
            child
            for container in level
            if isinstance(container, dict | list)
            for child in (container.values() if isinstance(container, dict) else container)
            if isinstance(child, dict | list)
        ]
        if not level:
            return
    raise TooDeep()


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, bounded as above: too deep is its usual 400 for bad JSON."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
            check_depth(data)
        except (RecursionError, TooDeep):
            raise ParseError(f"JSON parse error - {TooDeep()}") from None
        return data
