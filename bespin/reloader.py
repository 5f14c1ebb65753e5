"""`python -m bespin.reloader [--ext py,html] -- COMMAND…`: run COMMAND, and again whenever a
file of those extensions under the checkout changes. `make dev` runs the server and the
worker under it (BESPIN_RELOAD=0 turns it off).

A change stops COMMAND as any stop does, with SIGTERM, and waits for it to end: the worker
first finishes the job it is running. COMMAND ending by itself after a restart (a syntax
error, say) is reported and started again at the next change; ending before any change (its
first start failing, say) ends this process with its status, so that `make dev` says so
rather than wait for a server that never comes. SIGTERM or SIGINT to this process is passed
on as SIGTERM, and this process ends once COMMAND has, with status 0.
"""

import argparse
import signal
import subprocess
import sys
import threading
from pathlib import Path

from watchfiles import DefaultFilter, watch

from bespin.devenv import ROOT


class SourceFilter(DefaultFilter):
    """Files with one of `extensions`, outside what DefaultFilter ignores (.venv, .git, caches)."""

    def __init__(self, extensions: list[str]):
        super().__init__()
        self.suffixes = tuple(f".{extension.strip('.')}" for extension in extensions)

    def __call__(self, change, path: str) -> bool:
        return path.endswith(self.suffixes) and super().__call__(change, path)


def _watched(ignored: tuple[str, ...]) -> list[Path]:
    """The checkout's folders but the virtualenv, caches and hidden ones: watching .venv
    would take thousands of inotify watches for files nobody edits."""
    return [path for path in sorted(ROOT.iterdir())
            if path.is_dir() and not path.name.startswith(".") and path.name not in ignored]  # fmt: skip


def _say(label: str, message: str) -> None:
    print(f"[reload] {label}: {message}", file=sys.stderr, flush=True)


def _start(command: list[str], label: str, first: bool = False, stopped: threading.Event | None = None):
    child = subprocess.Popen(command)

    def report_exit():
        code = child.wait()
        if getattr(child, "stopping", False):
            return
        if first:
            child.failed_first = True
            stopped.set()  # ends the watch: this process exits with the child's status
        else:
            _say(label, f"exited with status {code}; it starts again at the next change")

    threading.Thread(target=report_exit, daemon=True).start()
    return child


def _stop(child: subprocess.Popen) -> None:
    child.stopping = True
    if child.poll() is None:
        child.send_signal(signal.SIGTERM)
        child.wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bespin.reloader")
    parser.add_argument("--ext", default="py", help="comma-separated extensions to watch (default: py)")
    parser.add_argument("--label", default="", help="the name used in its messages")
    parser.add_argument("command", nargs="+")
    options = parser.parse_args(argv)
    label = options.label or Path(options.command[0]).name
    stopped = threading.Event()

    def on_signal(signum, frame):
        stopped.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    child = _start(options.command, label, first=True, stopped=stopped)
    watching = SourceFilter(options.ext.split(","))
    paths = _watched(tuple(watching.ignore_dirs) + ("staticfiles", "venv"))
    for changes in watch(*paths, watch_filter=watching, stop_event=stopped, raise_interrupt=False):
        if getattr(child, "failed_first", False):
            break
        changed = sorted(str(Path(path).relative_to(ROOT)) for _, path in changes)
        _say(label, f"{changed[0]}{' and others' if len(changed) > 1 else ''} changed: restarting")
        _stop(child)
        if stopped.is_set():
            break
        child = _start(options.command, label)
    if getattr(child, "failed_first", False):
        _say(label, f"exited with status {child.returncode}")
        return child.returncode or 1
    _stop(child)
    return 0


if __name__ == "__main__":
    sys.exit(main())
