"""Running an RQ worker inside the test process without leaving its signal handlers behind."""

import contextlib
import signal
import time


@contextlib.contextmanager
def signal_handlers_kept():
    """Put back the signal handlers and the alarm that an RQ worker run in this process
    changes. RQ installs its own SIGINT and SIGTERM handlers (a warm shutdown, which only
    sets a flag once the worker is done) and never removes them: the test process would
    ignore SIGTERM ever after. It also arms SIGALRM for each job's timeout and then resets
    it to the default, which would cancel pytest-timeout's alarm for the rest of the test."""
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGALRM)}
    alarm, interval = signal.getitimer(signal.ITIMER_REAL)
    started = time.monotonic()
    try:
        yield
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)
        if alarm:
            # Whatever is left of it; a test whose time ran out meanwhile fails at once.
            signal.setitimer(signal.ITIMER_REAL, max(alarm - (time.monotonic() - started), 0.001), interval)
