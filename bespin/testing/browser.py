"""What the browser tests share: Debian's Chromium and how it is started, the two widths the
dashboard is looked at, and Daphne with one worker as processes on the test database."""

from pathlib import Path

from django.conf import settings

from bespin.testing.processes import Processes, free_port, wait_for
from jobs.models import Job

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
DESKTOP = {"width": 1280, "height": 860}
PHONE = {"width": 390, "height": 844}
WAIT_MS = 15_000
# Callbacks in the browser tests go to a receiver on 127.0.0.1 and are retried after seconds.
CALLBACK_BACKOFF = "3,3,3"


class LiveSystem:
    """Daphne and one worker as processes; the web server can be stopped and started again
    on the same port, as a deploy or crash would."""

    def __init__(self, logs: Path):
        # DEBUG serves /static/ from the source tree (WhiteNoise's finders); without it the
        # hashed-name storage would need `collectstatic` first. The tests' SECRET_KEY, so that
        # webhook and callback secrets the tests store (encrypted with a key derived from it)
        # verify.
        self.processes = Processes(
            logs, DEBUG="1", SECRET_KEY=settings.SECRET_KEY,
            BESPIN_CALLBACK_ALLOW_PRIVATE="1", BESPIN_CALLBACK_BACKOFF=CALLBACK_BACKOFF,
        )  # fmt: skip
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.web = None

    def start(self) -> None:
        self.processes.worker()
        self.start_web()

    def start_web(self) -> None:
        self.processes.web(self.port)
        self.web = self.processes.running[-1]

    def stop_web(self) -> None:
        self.processes.stop(self.web)

    def stop(self) -> None:
        self.processes.stop_all()


def job_row(page, job):
    return page.locator(f'tr[data-job-id="{job.id}"]')


def wait_for_status(job: Job, status: str, timeout: float = 15) -> Job:
    wait_for(lambda: Job.objects.get(id=job.id).status == status, timeout, message=f"job {job.id} to be {status}")
    job.refresh_from_db()
    return job
