"""Racing requests from threads: each does its work on a database connection of its own."""

import threading

from django.db import connection


def at_once(work, times: int, *, timeout: float = 30) -> list:
    """Run `work()` on `times` threads that start it together; what each returned, in the
    order they finished. A thread's exception is raised here, not lost with the thread."""
    barrier = threading.Barrier(times)
    results, errors = [], []

    def run() -> None:
        try:
            barrier.wait(timeout)
            results.append(work())
        except Exception as error:
            errors.append(error)
        finally:
            # A thread's connection goes back to the pool: more threads than it holds need them.
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(times)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    if errors:
        raise errors[0]
    assert len(results) == times, f"{times - len(results)} of {times} threads did not finish within {timeout} s"
    return results
