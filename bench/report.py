"""The table run.py prints and writes into docs/BENCHMARKS.md, with the machine it ran on.

Only the block between this mode's markers is replaced; everything else in the document
(profile findings, notes) is written by people and kept as it is.
"""

import os
import platform
import subprocess
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

from bench import peers
from bench.stack import ROOT, Stack

DOC = ROOT / "docs" / "BENCHMARKS.md"
# The targets Bespin holds itself to, against raw RQ measured in the same run.
LATENCY_P50_FACTOR = 2.0
LATENCY_P99_FACTOR = 3.0
CPU_FACTOR = 1.7
THROUGHPUT_FACTOR = 0.6
CREATION_TARGET = 350
BATCH_TARGET = 5000
WS_FIRST_TARGET_MS = 3.0
WEBHOOK_TARGET = 1000
CALLBACK_TARGET = 500
SOCKETS_TARGET = 10_000
PAGE_TARGET_MS = 50


def machine_info() -> dict:
    cpu = next(
        (line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
         if line.startswith("model name")),
        platform.processor() or "unknown",
    )  # fmt: skip
    mem_kib = next(
        int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal")
    )
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT, capture_output=True)
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "ram": f"{mem_kib / 1024 / 1024:.1f} GiB",
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "load": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "commit": commit.stdout.strip() + (" (with uncommitted changes)" if dirty.stdout.strip() else ""),
        "packages": ", ".join(
            f"{name} {version(name)}" for name in ("Django", "channels", "channels-redis", "daphne", "uvicorn", "rq")
        ),
    }


def service_versions(stack: Stack) -> dict:
    with stack.db() as db:
        postgres = db.execute("SHOW server_version").fetchone()[0]
    return {"postgresql": postgres, "redis": stack.redis.info("server")["redis_version"]}


def _ms(value: float) -> str:
    return f"{value:.1f} ms" if value == value else "n/a"


def _met(ok: bool | None) -> str:
    return "—" if ok is None else ("yes" if ok else "**no**")


def render(results: dict, machine: dict, *, quick: bool) -> str:
    config = results["config"]
    lat, raw_lat = results["latency"], results["raw_latency"]
    thr, raw_thr = results["throughput"], results["raw_throughput"]
    create, raw_enqueue = results["creation"], results["raw_enqueue"]
    hooks, ws = results["webhooks"], results["websockets"]
    batch = results["batch_creation"]
    cpu, raw_cpu = _cpu_per_job(results["throughput"]), _cpu_per_job(results["raw_throughput"])

    p50_ratio = lat["p50_ms"] / raw_lat["p50_ms"]
    p99_ratio = lat["p99_ms"] / raw_lat["p99_ms"]
    thr_ratio = thr["rate"] / raw_thr["rate"] if raw_thr["rate"] else float("nan")
    if hooks.get("available"):
        stored = f", {hooks['stored']} stored" if hooks.get("stored") is not None else ""
        hooks_cell = f"{hooks['rate']:.0f}/s ({hooks['accepted']}/{hooks['requests']} 2xx{stored})"
        hooks_met = _met(hooks["rate"] >= WEBHOOK_TARGET and hooks["accepted"] == hooks["requests"])
    else:
        hooks_cell = f"not available (probe answered {hooks.get('probe')})"
        hooks_met = "—"
    ws_cell = (
        f"{ws['received']}/{ws['sockets']} sockets got their job's update (cancelled); "
        f"{ws['kib_per_socket']:.0f} KiB per socket (RSS {ws['rss_before_mib']:.0f} → {ws['rss_open_mib']:.0f} MiB)"
    )
    ws_met = (
        _met(ws["received"] >= SOCKETS_TARGET) if ws["sockets"] >= SOCKETS_TARGET else f"— (quick: {ws['sockets']})"
    )

    rows = [
        ("End to end p50: `POST /api/jobs/random-text` → `completed` on a WebSocket",
         f"≤ {LATENCY_P50_FACTOR:g}x raw RQ p50", f"{_ms(lat['p50_ms'])} ({p50_ratio:.1f}x)",
         f"{_ms(raw_lat['p50_ms'])} enqueue → result", _met(p50_ratio <= LATENCY_P50_FACTOR)),
        ("End to end p99", f"≤ {LATENCY_P99_FACTOR:g}x raw RQ p99", f"{_ms(lat['p99_ms'])} ({p99_ratio:.1f}x)",
         _ms(raw_lat["p99_ms"]), _met(p99_ratio <= LATENCY_P99_FACTOR)),
        (f"Throughput, {config['workers']} workers, {thr['created']} jobs from {config['clients']} clients",
         f"≥ {THROUGHPUT_FACTOR:g}x raw RQ", f"{thr['rate']:.0f} jobs/s ({thr_ratio:.2f}x)",
         f"{raw_thr['rate']:.0f} jobs/s ({config['workers']} SimpleWorkers)", _met(thr_ratio >= THROUGHPUT_FACTOR)),
        (f"Job creation, {config['clients']} clients (workers suspended)", f"≥ {CREATION_TARGET:,}/s",
         f"{create['rate']:.0f}/s (p50 {_ms(create['p50_ms'])}, {create['created']} jobs)",
         f"{raw_enqueue['rate']:.0f}/s plain enqueue",
         _met(create["rate"] >= CREATION_TARGET)),
        (f"Job creation through `POST /api/jobs/batch`, {batch['size']} a request, {config['batch_clients']} clients",
         f"≥ {BATCH_TARGET:,} jobs/s",
         f"{batch['rate']:.0f} jobs/s ({batch['created']} created, {batch['stored']} stored; "
         f"p50 {_ms(batch['p50_ms'])} a request{_unless_all(batch['statuses'], 201)})",
         f"{raw_enqueue['rate']:.0f}/s plain enqueue",
         _met(batch["rate"] >= BATCH_TARGET and batch["stored"] == batch["created"])),
        ("Whole-system CPU per job during the throughput runs (from /proc)", f"≤ {CPU_FACTOR:g}x raw RQ",
         f"{cpu:.1f} ms ({cpu / raw_cpu:.1f}x)", f"{raw_cpu:.1f} ms", _met(cpu / raw_cpu <= CPU_FACTOR)),
        ("WebSocket open → first message (the job's status), p50", f"≤ {WS_FIRST_TARGET_MS:g} ms",
         _ms(lat["ws_open_to_first_p50_ms"]), "—", _met(lat["ws_open_to_first_p50_ms"] <= WS_FIRST_TARGET_MS)),
        (f"Webhook ingestion, {config['senders']} senders, verified and stored", f"≥ {WEBHOOK_TARGET:,}/s",
         hooks_cell, "—", hooks_met),
        ("Open WebSockets on one Daphne, each getting its job's updates", f"≥ {SOCKETS_TARGET:,}, memory reported",
         ws_cell, "—", ws_met),
        *_callbacks_row(results.get("callbacks"), config),
    ]  # fmt: skip

    first = ", ".join(f"{status} {count}" for status, count in sorted(lat["first_status"].items()))
    extra = [
        (
            "POST answered (201), p50 / first WebSocket message, p50",
            f"{_ms(lat['post_p50_ms'])} / {_ms(lat['first_ws_message_p50_ms'])}; first status seen on connect: {first}",
        ),
    ]
    if "uvicorn_latency" in results:
        uv_lat, uv_create = results["uvicorn_latency"], results["uvicorn_creation"]
        extra += [
            (
                "uvicorn (httptools, uvloop) instead of Daphne: end to end p50 / p99",
                f"{_ms(uv_lat['p50_ms'])} / {_ms(uv_lat['p99_ms'])} ({uv_lat['n']} jobs)",
            ),
            (
                "uvicorn: job creation, workers suspended",
                f"{uv_create['rate']:.0f}/s (p50 {_ms(uv_create['p50_ms'])}, {uv_create['created']} jobs)",
            ),
        ]
    unbatched = results.get("webhooks_unbatched", {})
    if unbatched.get("available"):
        extra.append((
            "Webhook ingestion with each delivery stored on its own (`BESPIN_WEBHOOK_MAX_BATCH=1`)",
            f"{unbatched['rate']:.0f}/s ({unbatched['accepted']}/{unbatched['requests']} 2xx, p50 "
            f"{_ms(unbatched['p50_ms'])}); batched as shipped: {hooks['rate']:.0f}/s (p50 {_ms(hooks['p50_ms'])})",
        ))  # fmt: skip
    extra += [
        ("Job creation while the throughput run's 2 workers run (Daphne)", f"{thr['submit_rate']:.0f}/s"),
        ("Raw RQ enqueue while its 2 workers run", f"{raw_thr['submit_rate']:.0f}/s"),
        ("WebSockets: time to open them all / to cancel every job and deliver every update",
         f"{ws['open_seconds']:.1f} s ({ws['opened'] / ws['open_seconds']:.0f}/s) / {ws['run_seconds']:.1f} s; "
         f"RSS after the jobs {ws['rss_after_mib']:.0f} MiB; errors {ws['errors'] or 'none'}"),
    ]  # fmt: skip

    lines = [
        f"Run of {machine['date']}, {'quick' if quick else 'full'} mode, {results['seconds']:.0f} s in all. "
        f"Commit {machine['commit']}.",
        "",
        f"Machine: {machine['cpu']}, {machine['cores']} cores, {machine['ram']} RAM, {machine['os']}; "
        f"Python {machine['python']}, PostgreSQL {machine.get('postgresql', '?')}, Redis {machine.get('redis', '?')}; "
        f"{machine['packages']}. Load average at the start: {machine['load']} (the cores are shared; "
        "figures move with whatever else runs).",
        "",
        "| figure | target | measured | raw-RQ baseline | met? |",
        "|---|---|---|---|---|",
        *(f"| {' | '.join(row)} |" for row in rows),
        "",
        "| more measurements | value |",
        "|---|---|",
        *(f"| {name} | {value} |" for name, value in extra),
        "",
        *_cpu_table(results),
        "",
        *_pages_table(results.get("pages")),
        "",
        *_queries(results.get("queries", {})),
        "",
        *peers.render(results.get("peers"), config["workers"]),
    ]
    return "\n".join(lines)


def _callbacks_row(hooks: dict | None, config: dict) -> list[tuple[str, ...]]:
    """Callbacks delivered per second by the workers once N jobs end together (bench/callbacks.py)."""
    if not hooks:
        return []
    cell = (
        f"{hooks['rate']:.0f}/s ({hooks['delivered']}/{hooks['due']} delivered in {hooks['seconds']:.2f} s; "
        f"job end → delivered p50 {_ms(hooks['p50_ms'])}, p99 {_ms(hooks['p99_ms'])}; "
        f"{hooks['worker_cpu_ms']:.2f} ms of worker CPU each)"
    )
    met = _met(hooks["rate"] >= CALLBACK_TARGET and hooks["delivered"] == hooks["due"])
    return [
        (f"Completion callbacks, {config['workers']} workers, to a local receiver (signed, recorded)",
         f"≥ {CALLBACK_TARGET}/s", cell, "—", met),
    ]  # fmt: skip


def _pages_table(pages: dict | None) -> list[str]:
    """p50 of each page at each table size, as staff over HTTP to Daphne."""
    if not pages or not pages.get("sizes"):
        return ["Pages with a large table: not measured."]
    sizes = pages["sizes"]
    head = " | ".join(f"p50 at {size['jobs']:,} jobs" for size in sizes)
    rows = []
    for name in sizes[0]["pages"]:
        cells = []
        for size in sizes:
            page = size["pages"][name]
            statuses = "" if page["statuses"] == [200] else f" (answered {page['statuses']})"
            cells.append(f"{page['p50_ms']:.1f} ms{statuses}")
        worst = max(size["pages"][name]["p50_ms"] for size in sizes)
        rows.append(f"| {name} | {' | '.join(cells)} | {_met(worst <= PAGE_TARGET_MS)} |")
    seeded = ", ".join(f"{size['jobs']:,} in {size['seed_seconds']:.0f} s" for size in sizes)
    return [
        f"Pages as staff with the jobs table grown by COPY (seeded {seeded}); target p50 ≤ {PAGE_TARGET_MS} ms:",
        "",
        f"| page | {head} | met? |",
        "|---|" + "---|" * len(sizes) + "---|",
        *rows,
    ]


def _cpu_table(results: dict) -> list[str]:
    """CPU milliseconds per job by process: the throughput runs, and the sequential jobs of
    the end-to-end figure."""
    thr, raw = results["throughput"], results["raw_throughput"]
    runs = [(thr, max(thr["completed"], 1)), (raw, max(raw["completed"], 1))]
    header = "| process | Bespin | raw RQ |"
    latency, raw_latency = results.get("latency", {}), results.get("raw_latency", {})
    if "cpu" in latency and "cpu" in raw_latency:
        runs += [(latency, latency["runs"]), (raw_latency, raw_latency["runs"])]
        header += " Bespin, one at a time | raw RQ, one at a time |"
    groups = sorted({group for run, _ in runs for group in run["cpu"]["cpu"]})

    def row(name: str, per_run) -> str:
        return f"| {name} | " + " | ".join(per_run(run["cpu"]["cpu"], jobs) for run, jobs in runs) + " |"

    return [
        "CPU per job (ms of CPU, from /proc; redis-server is shared with other users): during the "
        "throughput runs" + (", and during the end-to-end figure's jobs run one at a time:" if len(runs) > 2 else ":"),
        "",
        header,
        "|---" * (len(runs) + 1) + "|",
        *(row(group, lambda cpu, jobs, group=group: f"{cpu.get(group, 0) * 1000 / jobs:.2f}") for group in groups),
        row("**total**", lambda cpu, jobs: f"**{sum(cpu.values()) * 1000 / jobs:.2f}**"),
    ]


def _unless_all(statuses: dict, expected: int) -> str:
    """ ", answered {...}" when some answers were not the expected status, else nothing."""
    return "" if set(statuses) == {expected} else f"; answered {statuses}"


def _cpu_per_job(run: dict) -> float:
    """Milliseconds of CPU, all processes together, per job completed in a throughput run."""
    return sum(run["cpu"]["cpu"].values()) * 1000 / max(run["completed"], 1)


def _queries(probe: dict) -> list[str]:
    if not probe or "error" in probe:
        return [f"Queries per job: probe failed: {probe.get('error', 'not run')}"]
    lines = ["SQL per job (bench/queries.py; pool check-outs are each one more round trip, a health check):", ""]
    for side, label in (("create", "API, create_job"), ("run", "worker, run_job")):
        part = probe[side]
        lines.append(
            f"- {label}: {len(part['statements'])} statements, {part['pool'].get('requests_num', 0)} pool check-out(s)"
        )
        lines.extend(f"  - `{statement}`" for statement in part["statements"])
    return lines


def write(text: str, *, quick: bool = False, mode: str | None = None) -> None:
    """Put `text` between the markers of its block in docs/BENCHMARKS.md: the full or quick
    run's, or another `mode`'s (bench/peers.py writes "peers")."""
    mode = mode or ("quick" if quick else "full")
    start, end = f"<!-- bench:{mode}:start -->", f"<!-- bench:{mode}:end -->"
    block = f"{start}\n{text}\n{end}"
    doc = DOC.read_text() if DOC.exists() else _SKELETON
    if start in doc and end in doc:
        doc = doc[: doc.index(start)] + block + doc[doc.index(end) + len(end) :]
    else:
        doc = doc.rstrip() + f"\n\n## Latest {mode} run\n\n{block}\n"
    DOC.parent.mkdir(exist_ok=True)
    DOC.write_text(doc)


_SKELETON = """# Benchmarks

`make bench` (about 5 minutes) or `make bench QUICK=1` (under a minute) measures Bespin beside
raw RQ on this machine and rewrites the blocks below.

## Latest full run

<!-- bench:full:start -->
(not run yet)
<!-- bench:full:end -->

## Latest quick run

<!-- bench:quick:start -->
(not run yet)
<!-- bench:quick:end -->
"""
