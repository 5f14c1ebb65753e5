"""Costs that must not grow with the table: seed millions of finished jobs with COPY, then
time the pages that read them (the overview, /jobs/, GET /api/jobs, /api/health, /metrics)
as staff, over real HTTP to the running server.

Rows go in through COPY in chunks, with the counting triggers on: each chunk's statement
trigger appends a handful of count deltas, which the workers' maintenance folds in, as it
would for jobs created one by one.
"""

import http.cookiejar
import io
import time
import urllib.parse
import urllib.request
import uuid
from datetime import UTC, datetime, timedelta

from bench.client import percentile
from bench.stack import Stack

CHUNK = 200_000
STAFF = ("bench-staff", "bench-staff-password-1")
METRICS_TOKEN = "bench-metrics-token"
PAGES = {
    "overview `/`": "/",
    "`/jobs/`": "/jobs/",
    "`GET /api/jobs`": "/api/jobs",
    "`/api/health`": "/api/health",
    "`/metrics`": "/metrics",
}
# Statuses of the seeded jobs: all finished (a pending one would be enqueued by the sweep),
# mostly completed, as in a table that has run for a while.
MIX = (("completed", 90), ("failed", 6), ("cancelled", 4))


def _rows(start: int, count: int, owners: list[int], now: datetime):
    """Tab-separated rows for COPY: jobs over the last 30 days, newest last."""
    buffer = io.StringIO()
    span = timedelta(days=30).total_seconds()
    cycle = [status for status, weight in MIX for _ in range(weight)]
    for i in range(start, start + count):
        created = now - timedelta(seconds=span * (1 - i / 20_000_000))
        status = cycle[i % len(cycle)]
        owner = owners[i % len(owners)] if owners and i % 4 == 0 else "\\N"
        started = created + timedelta(milliseconds=5)
        finished = started + timedelta(milliseconds=20 + i % 50)
        result = '"cloud data"' if status == "completed" else "\\N"
        fields = [
            str(uuid.uuid4()), "random_text", '{"length": 2}', status, "100" if status == "completed" else "0",
            result, "boom" if status == "failed" else "", "1", str(owner), "bench", "0",
            created.isoformat(), started.isoformat(), finished.isoformat(),
            "",
        ]  # fmt: skip
        buffer.write("\t".join(fields) + "\n")
    return buffer.getvalue()


COLUMNS = (
    "id, type, params, status, progress, result, error, attempt, owner_id, worker_name, lost_count, "
    "created_at, started_at, finished_at, client"
)


def seed(stack: Stack, *, upto: int, already: int = 0) -> float:
    """Add jobs until the table holds `upto`; returns the seconds it took."""
    started = time.perf_counter()
    now = datetime.now(UTC)
    with stack.db() as db:
        owners = [row[0] for row in db.execute("SELECT id FROM auth_user ORDER BY id")]
        for start in range(already, upto, CHUNK):
            with db.cursor().copy(f"COPY jobs_job ({COLUMNS}) FROM STDIN") as copy:
                copy.write(_rows(start, min(CHUNK, upto - start), owners, now))
        db.execute("ANALYZE jobs_job")
    return time.perf_counter() - started


def create_staff(stack: Stack) -> None:
    script = (
        "from django.contrib.auth.models import User; "
        f"User.objects.filter(username='{STAFF[0]}').exists() or "
        f"User.objects.create_user('{STAFF[0]}', password='{STAFF[1]}', is_staff=True)"
    )
    stack.run_manage("shell", "-c", script)


class StaffBrowser:
    """Signed in through the sign-in page, as a person would be; keeps the session cookie."""

    def __init__(self, port: int):
        self.base = f"http://127.0.0.1:{port}"
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))
        self.opener.open(f"{self.base}/accounts/login/", timeout=30).read()
        token = next(cookie.value for cookie in self.jar if cookie.name == "csrftoken")
        form = urllib.parse.urlencode({"username": STAFF[0], "password": STAFF[1], "csrfmiddlewaretoken": token})
        request = urllib.request.Request(
            f"{self.base}/accounts/login/", data=form.encode(), headers={"Referer": f"{self.base}/accounts/login/"}
        )
        self.opener.open(request, timeout=30).read()

    def time(self, path: str, *, samples: int) -> dict:
        headers = {"Accept": "application/json"} if path.startswith("/api/") else {}
        if path == "/metrics":
            headers["Authorization"] = f"Bearer {METRICS_TOKEN}"
        seconds, statuses = [], set()
        for _ in range(samples + 1):  # the first warms caches and is not counted
            request = urllib.request.Request(f"{self.base}{path}", headers=headers)
            begun = time.perf_counter()
            try:
                with self.opener.open(request, timeout=60) as response:
                    response.read()
                    statuses.add(response.status)
            except urllib.error.HTTPError as error:
                error.read()
                statuses.add(error.code)
            seconds.append(time.perf_counter() - begun)
        return {"p50_ms": percentile(seconds[1:], 0.5) * 1000, "statuses": sorted(statuses)}


def measure(stack: Stack, port: int, *, sizes: list[int], samples: int) -> dict:
    """For each table size in `sizes` (ascending): seed up to it, fold the counts, time every page."""
    create_staff(stack)
    results, seeded = {"sizes": []}, 0
    for size in sizes:
        seconds = seed(stack, upto=size, already=seeded)
        seeded = size
        stack.run_manage("recover_jobs")  # folds the counts' deltas, as the workers' maintenance does
        browser = StaffBrowser(port)
        pages = {name: browser.time(path, samples=samples) for name, path in PAGES.items()}
        results["sizes"].append({"jobs": size, "seed_seconds": seconds, "pages": pages})
    return results
