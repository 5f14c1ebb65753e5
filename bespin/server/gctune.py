"""Garbage collection for a long-running server process.

Python's cyclic collector walks its youngest objects after every 700 net allocations, and
now and then every object the process holds, most of which Django, DRF, Twisted and autobahn
loaded at start-up and keep for the process's life. Frozen after start-up, those objects are
never walked again, and a larger first threshold makes far fewer collections: less of the
server's CPU per request and shorter pauses (docs/BENCHMARKS.md has the figures).
"""

import gc

# Net allocations between two collections of the youngest generation (Python's default: 700).
YOUNG_THRESHOLD = 10_000


def settle() -> None:
    """Call once, when start-up has imported and built what the process keeps for its life."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, *gc.get_threshold()[1:])
