"""autobahn, which speaks WebSocket under Daphne, pretty-prints its whole configuration for
a debug log line on every connection it accepts, whether anything logs at debug or not: a
good share of what accepting one costs (docs/BENCHMARKS.md). Here the formatting
waits until the line is written; with debug logging on it reads as before."""

import pprint

from autobahn.websocket import protocol


class _Formatted:
    """A value that the log formats when it writes the line."""

    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value

    def __str__(self) -> str:
        return pprint.pformat(self.value)


def defer_config_dump() -> None:
    if protocol.pformat is _Formatted:
        return
    protocol.pformat = _Formatted

    # The module's one other use must still return a string.
    def timings_text(timings) -> str:
        return pprint.pformat(timings._timings)

    timings_text.__wrapped__ = protocol.Timings.__str__  # for the test of the library's shape
    protocol.Timings.__str__ = timings_text
