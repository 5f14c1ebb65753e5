"""The dashboard's ways to make or change jobs (start, cancel, retry, the bulk actions) count
against the same creation rate as the API's: a browser form is no cheaper a way in."""

from bespin.lib.throttles import page_throttled
from jobs.callers import CreationThrottle

# 429 once the caller is past BESPIN_THROTTLE_ANON or BESPIN_THROTTLE_USER.
creation_throttled = page_throttled(
    CreationThrottle,
    reason="You have started, cancelled or retried jobs faster than this server allows.",
    back="job-list",
)
