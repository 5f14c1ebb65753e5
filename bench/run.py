"""`make bench` (`make bench QUICK=1`): Bespin's performance figures beside raw RQ's, measured
in one run on this machine, printed and written to docs/BENCHMARKS.md.

    .venv/bin/python bench/run.py [--quick] [--profile] [--keep-logs] [--no-write]

It makes its own scratch database (bespin_bench, dropped and created again) and uses a spare
Redis database (BENCH_REDIS_URL, default redis://127.0.0.1:6379/12, flushed), starts Daphne,
uvicorn, Bespin workers and plain RQ SimpleWorkers as processes, measures, and stops them all,
on failure and Ctrl-C too. `--profile` then repeats the creation and throughput loads under
py-spy and writes the raw stacks and a summary to bench/out/.
"""

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import bigtable, callbacks, hooks, measure, peers, profiling, rawrq, report, sockets  # noqa: E402
from bench.measure import run_async  # noqa: E402
from bench.stack import DEFAULT_REDIS_URL, ROOT, Stack, raise_open_files  # noqa: E402

# Each load stops at its count or its time limit, whichever comes first; the table says how
# many it made. A quick run keeps every figure but fewer samples, and skips uvicorn.
FULL = {
    "latency_samples": 200,
    "latency_warmup": 10,
    "uvicorn_latency_samples": 100,
    "throughput_jobs": 1000,
    "clients": 8,
    "workers": 2,
    "creation_requests": 4000,
    "batch_jobs": 50_000,
    "batch_size": 1000,
    "batch_clients": 2,
    "webhook_requests": 4000,
    "callback_jobs": 3000,
    "senders": 10,
    "sockets": 10_000,
    "ws_client_processes": 2,
    "load_seconds": 20.0,
    "time_limit": 150.0,
    # Table sizes at which each page is timed (bench/bigtable.py), and requests per page.
    "table_sizes": [1_000_000, 10_000_000],
    "page_samples": 20,
    # django-tasks' other backends beside Bespin's (bench/peers.py).
    "peer_jobs": 1000,
    "peer_samples": 200,
}
QUICK = {
    **FULL,
    "latency_samples": 20,
    "latency_warmup": 3,
    "uvicorn_latency_samples": 0,
    "creation_requests": 1000,
    "batch_jobs": 10_000,
    "webhook_requests": 1000,
    "callback_jobs": 500,
    "sockets": 300,
    "ws_client_processes": 1,
    "load_seconds": 5.0,
    "time_limit": 20.0,
    "table_sizes": [50_000, 100_000],
    "page_samples": 5,
    "peer_jobs": 200,
    "peer_samples": 20,
}
OUT = ROOT / "bench" / "out"
UNBATCHED = "daphne-unbatched"


def step(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def query_probe(stack: Stack) -> dict:
    """Statements per job, from bench/queries.py against the scratch database."""
    result = subprocess.run(
        [sys.executable, "-m", "bench.queries"], cwd=ROOT, env=stack.env(REDIS_URL=stack.probe_redis_url),
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    if result.returncode != 0:
        return {"error": result.stderr[-1000:]}
    measure.truncate_jobs(stack)
    return json.loads(result.stdout.strip().splitlines()[-1])


def measure_all(stack: Stack, config: dict) -> dict:
    results: dict = {"config": config}
    daphne = stack.ports["daphne"]
    samples, warmup = config["latency_samples"], config["latency_warmup"]
    jobs, clients, workers = config["throughput_jobs"], config["clients"], config["workers"]
    load, limit = config["load_seconds"], config["time_limit"]
    requests = config["creation_requests"]

    step("queries per job (bench/queries.py)")
    results["queries"] = query_probe(stack)

    # Each side's CPU by process over its sequential jobs, after their warm-up: one job at a
    # time on two cores, the end-to-end figure follows how much CPU a job costs in all.
    step(f"end-to-end latency: raw RQ, {samples} sequential jobs")
    measure.raw_latency(stack.redis, samples=0, warmup=warmup)
    meter = measure.CpuMeter(stack).start()
    results["raw_latency"] = measure.raw_latency(stack.redis, samples=samples, warmup=0)
    results["raw_latency"].update(cpu=meter.stop(), runs=samples)
    step(f"end-to-end latency: Bespin on Daphne, {samples} sequential jobs")
    run_async(measure.bespin_latency(daphne, samples=0, warmup=warmup))
    meter = measure.CpuMeter(stack).start()
    results["latency"] = run_async(measure.bespin_latency(daphne, samples=samples, warmup=0))
    results["latency"].update(cpu=meter.stop(), runs=samples)

    step(f"throughput: raw RQ, {jobs} jobs from {clients} clients, {workers} SimpleWorkers")
    results["raw_throughput"] = measure.raw_throughput(stack, jobs=jobs, clients=clients, time_limit=limit)
    step(f"throughput: Bespin, {jobs} jobs (or {load:g} s of POSTs) from {clients} HTTP clients, {workers} workers")
    results["throughput"] = run_async(
        measure.bespin_throughput(stack, daphne, jobs=jobs, clients=clients, load_seconds=load, time_limit=limit)
    )

    with measure.WorkersSuspended(stack):
        step(f"job creation: {requests} POSTs (or {load:g} s) from {clients} clients to Daphne, workers suspended")
        results["creation"] = run_async(
            measure.creation_rate(stack, daphne, requests=requests, clients=clients, time_limit=load)
        )
    batch_jobs, size, batch_clients = config["batch_jobs"], config["batch_size"], config["batch_clients"]
    with measure.WorkersSuspended(stack):
        step(f"batch creation: {batch_jobs} jobs, {size} a request, from {batch_clients} clients, workers suspended")
        results["batch_creation"] = run_async(
            measure.batch_rate(stack, daphne, jobs=batch_jobs, size=size, clients=batch_clients, time_limit=load)
        )
    with measure.WorkersSuspended(stack):
        step(f"raw RQ enqueue: {requests} jobs from {clients} threads")
        results["raw_enqueue"] = measure.raw_enqueue_rate(stack, requests=requests, clients=clients)

    if "uvicorn" in stack.ports:
        uvicorn, uv_samples = stack.ports["uvicorn"], config["uvicorn_latency_samples"]
        step(f"end-to-end latency: Bespin on uvicorn, {uv_samples} sequential jobs")
        results["uvicorn_latency"] = run_async(measure.bespin_latency(uvicorn, samples=uv_samples, warmup=warmup))
        with measure.WorkersSuspended(stack):
            step(f"job creation: {requests} POSTs (or {load:g} s) from {clients} clients to uvicorn")
            results["uvicorn_creation"] = run_async(
                measure.creation_rate(stack, uvicorn, requests=requests, clients=clients, time_limit=load)
            )

    deliveries, senders = config["webhook_requests"], config["senders"]
    step(f"webhooks: {deliveries} signed deliveries (or {load:g} s) from {senders} senders")
    results["webhooks"] = run_async(
        hooks.webhook_rate(stack, daphne, requests=deliveries, senders=senders, time_limit=load)
    )
    step("webhooks: the same, to a Daphne storing each delivery on its own (BESPIN_WEBHOOK_MAX_BATCH=1)")
    results["webhooks_unbatched"] = run_async(
        hooks.webhook_rate(stack, stack.ports[UNBATCHED], requests=deliveries, senders=senders, time_limit=load)
    )

    callback_jobs = config["callback_jobs"]
    with measure.WorkersSuspended(stack):
        step(f"callbacks: {callback_jobs} jobs with a callback_url (or {load:g} s of POSTs), then all ended at once")
        results["callbacks"] = callbacks.callback_rate(
            stack, daphne, jobs=callback_jobs, clients=clients, load_seconds=load, time_limit=limit
        )

    count = config["sockets"]
    step(f"open WebSockets: {count} on one Daphne process, each for its own job, then cancel every job")
    results["websockets"] = sockets.open_websockets(
        stack, daphne, sockets=count, client_processes=config["ws_client_processes"], time_limit=limit
    )
    measure.truncate_jobs(stack)

    sizes, samples = config["table_sizes"], config["page_samples"]
    step(f"pages with {', '.join(f'{n:,}' for n in sizes)} jobs in the table (seeded with COPY)")
    with measure.WorkersSuspended(stack):
        results["pages"] = bigtable.measure(stack, daphne, sizes=sizes, samples=samples)
    measure.truncate_jobs(stack)

    peer_jobs, peer_samples = config["peer_jobs"], config["peer_samples"]
    step(f"one @task on Bespin, django-tasks-rq and django-tasks-db: {peer_jobs} tasks, {peer_samples} one at a time")
    results["peers"] = peers.measure(stack, jobs=peer_jobs, samples=peer_samples, workers=workers)
    return results


def profile_all(stack: Stack, config: dict) -> dict:
    """The creation and throughput loads again, now under py-spy (which slows what it samples,
    so the figures above come from the runs without it)."""
    OUT.mkdir(exist_ok=True)
    daphne = stack.ports["daphne"]
    clients, load, limit = config["clients"], config["load_seconds"], config["time_limit"]
    summaries = {}
    requests = config["creation_requests"]
    with measure.WorkersSuspended(stack):
        step(f"profile: {requests} job creations, py-spy on Daphne")
        path = OUT / "profile-create-daphne.txt"
        with profiling.Recorder(stack.pid("daphne"), path) as recorder:
            creation = run_async(
                measure.creation_rate(stack, daphne, requests=requests, clients=clients, time_limit=load)
            )
        summaries["create-daphne"] = profiling.summarize(path, per=creation["created"], unit="request")
        if not path.exists():
            summaries["create-daphne"] += "\n" + recorder.error
    jobs = config["throughput_jobs"]
    step(f"profile: {jobs} jobs end to end, py-spy on Daphne and one worker")
    worker = stack.names("worker-")[0]
    paths = {
        "throughput-daphne": OUT / "profile-throughput-daphne.txt",
        "throughput-worker": OUT / f"profile-{worker}.txt",
    }
    with profiling.Recorder(stack.pid("daphne"), paths["throughput-daphne"]):
        with profiling.Recorder(stack.pid(worker), paths["throughput-worker"]):
            run = run_async(
                measure.bespin_throughput(
                    stack, daphne, jobs=jobs, clients=clients, load_seconds=load, time_limit=limit
                )
            )
    summaries["throughput-daphne"] = profiling.summarize(paths["throughput-daphne"], per=run["created"], unit="request")
    # Two workers share the jobs about evenly; the one sampled ran about half.
    summaries["throughput-worker"] = profiling.summarize(
        paths["throughput-worker"], per=max(1, run["completed"] // config["workers"]), unit="job"
    )
    step("profile: raw RQ throughput, py-spy on one raw worker")
    raw = stack.names("raw-")[0]
    path = OUT / f"profile-{raw}.txt"
    with profiling.Recorder(stack.pid(raw), path):
        raw_run = measure.raw_throughput(stack, jobs=jobs, clients=clients, time_limit=limit)
    summaries["throughput-raw-worker"] = profiling.summarize(
        path, per=max(1, raw_run["completed"] // config["workers"]), unit="job"
    )
    measure.truncate_jobs(stack)
    text = "\n\n".join(f"== {name} ==\n{summary}" for name, summary in summaries.items())
    (OUT / "profile-summary.txt").write_text(text + "\n")
    return summaries


def peers_only(config: dict, *, write: bool) -> int:
    """bench/peers.py's comparison alone, into its own block of docs/BENCHMARKS.md."""
    machine = report.machine_info()
    stack = Stack(redis_url=os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS_URL))
    started, workers = time.perf_counter(), config["workers"]
    jobs, samples = config["peer_jobs"], config["peer_samples"]
    try:
        step(f"scratch database and Redis ({stack.redis_url}); {workers} Bespin workers")
        stack.prepare_storage()
        stack.start_bespin_workers(workers)
        stack.wait_ready(http=[], queues={measure.BESPIN_QUEUE: workers})
        step(f"one @task on Bespin, django-tasks-rq and django-tasks-db: {jobs} tasks, {samples} one at a time")
        results = peers.measure(stack, jobs=jobs, samples=samples, workers=workers)
    except Exception:
        for name in list(stack.processes):
            print(f"--- {name} log (tail) ---\n{stack.tail(name)}", file=sys.stderr)
        raise
    finally:
        stack.stop()
        stack.drop_storage()
    text = "\n".join([
        f"Run of {machine['date']}: {jobs} tasks, {samples} one at a time, {time.perf_counter() - started:.0f} s; "
        f"commit {machine['commit']}; {machine['cpu']}, {machine['cores']} cores; load average at the start "
        f"{machine['load']}.",
        "",
        *peers.render(results, workers),
    ])  # fmt: skip
    print(f"\n{text}\n", flush=True)
    if write:
        report.write(text, mode="peers")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer samples and sockets: under a minute")
    parser.add_argument("--profile", action="store_true", help="then profile with py-spy into bench/out/")
    parser.add_argument("--keep-logs", action="store_true", help="keep the processes' logs (path printed)")
    parser.add_argument("--no-write", action="store_true", help="print the table only")
    parser.add_argument("--peers", action="store_true", help="only Bespin beside django-tasks' other backends")
    args = parser.parse_args()
    config = QUICK if args.quick else FULL
    if args.peers:
        return peers_only(config, write=not args.no_write)

    if not rawrq.vocabulary_matches_bespin(ROOT):
        print("bench/rawrq.py's VOCABULARY differs from jobs/tasks.py's: fix it first", file=sys.stderr)
        return 2
    raise_open_files()
    started = time.perf_counter()
    machine = report.machine_info()
    stack = Stack(redis_url=os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS_URL), keep_logs=args.keep_logs)
    try:
        step(f"scratch database and Redis ({stack.redis_url}); logs in {stack.logs}")
        stack.prepare_storage()
        machine.update(report.service_versions(stack))
        stack.start_daphne()
        # The same server storing each delivery on its own: what the ingress's batching is worth.
        stack.start_daphne(UNBATCHED, BESPIN_WEBHOOK_MAX_BATCH="1")
        if config["uvicorn_latency_samples"]:
            stack.start_uvicorn()
        stack.start_bespin_workers(config["workers"])
        stack.start_raw_workers(config["workers"], rawrq.QUEUE_NAME)
        stack.wait_ready(
            http=list(stack.ports),
            queues={measure.BESPIN_QUEUE: config["workers"], rawrq.QUEUE_NAME: config["workers"]},
        )
        step(
            f"{' and '.join(stack.ports)} up; {config['workers']} Bespin workers and {config['workers']} raw RQ workers"
        )
        results = measure_all(stack, config)
        results["seconds"] = time.perf_counter() - started
        # Written before profiling, so that nothing measured is lost if the profiler fails.
        text = report.render(results, machine, quick=args.quick)
        print(f"\n{text}\n", flush=True)
        if not args.no_write:
            report.write(text, quick=args.quick)
            print(f"written to {report.DOC.relative_to(ROOT)}", flush=True)
        if args.profile:
            profile = profile_all(stack, config)
            print("\n".join(f"\n== {name} ==\n{summary}" for name, summary in profile.items()))
            print(f"\nraw stacks and this summary are in {OUT.relative_to(ROOT)}/")
    except KeyboardInterrupt:
        print("\ninterrupted: stopping every process", file=sys.stderr)
        return 130
    except Exception:
        for name in list(stack.processes):
            print(f"--- {name} log (tail) ---\n{stack.tail(name)}", file=sys.stderr)
        raise
    finally:
        stack.stop()
        stack.drop_storage()
    return 0


if __name__ == "__main__":
    sys.exit(main())
