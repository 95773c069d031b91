"""Run every workload against runyard and MLflow on each database and write ``RESULTS.md``.

Invoked by ``bench/run`` with runyard's own interpreter; MLflow runs from ``bench/.venv-mlflow``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil

from httpclient import Unavailable, make_client
from profiling import Profiler
from report import render
from servers import MLFLOW_BIN, REPO, Server, fresh_database, start_mlflow, start_runyard, tree_rss
from sizes import FULL, QUICK, Sizes
from workloads import ALL, Bench
from workloads.artifacts import copy_baseline

BENCH = REPO / "bench"
OUT = BENCH / "out"
# Chosen by measuring 1, 2 and 4 workers with this suite's workloads: see docs/benchmarks.md.
DEFAULT_MLFLOW_WORKERS = 1
MB = 1_000_000


def log(message: str) -> None:
    print(f"[{datetime.now():%H:%M:%S}] {message}", flush=True)


def _idle_rss(server: Server, settle: float) -> float:
    """Tree RSS after start-up has settled: the highest of a few samples one second apart."""
    time.sleep(settle)
    samples = []
    for _ in range(3):
        samples.append(tree_rss(server.pid))
        time.sleep(1)
    return max(samples) / MB


def run_server(
    name: str,
    database: str,
    sizes: Sizes,
    shared: Path,
    args: argparse.Namespace,
    profiles: dict[str, list[str]],
) -> dict[str, Any]:
    """Start one server on a fresh database, run the selected workloads, stop it."""
    from servers import PeakSampler

    result: dict[str, Any] = {"metrics": {}, "notes": {}, "errors": [], "workload_seconds": {}}
    scratch = Path(tempfile.mkdtemp(prefix=f"bench-{name}-{database}-"))
    began = time.monotonic()
    try:
        with fresh_database(database, scratch) as url:
            if name == "runyard":
                server = start_runyard(url, scratch)
            else:
                server = start_mlflow(url, scratch, args.mlflow_workers)
            log(f"{name} on {database}: up at {server.base_url} (pid {server.pid})")
            try:
                result["metrics"]["idle_rss_mb"] = _idle_rss(server, args.settle)
                result["processes"] = len(psutil.Process(server.pid).children(recursive=True)) + 1
                log(f"{name} on {database}: idle RSS {result['metrics']['idle_rss_mb']:.0f} MB")
                clients = [make_client(server.base_url) for _ in range(sizes.clients)]
                bench = Bench(name, clients, sizes, scratch, shared)
                with PeakSampler(server.pid) as sampler:
                    for workload in ALL:
                        if args.workloads and workload.name not in args.workloads:
                            continue
                        _run_workload(workload, bench, server, database, args, result, profiles)
                result["metrics"]["peak_rss_mb"] = sampler.peak / MB
                for client in clients:
                    client.close()
            finally:
                server.stop()
                result["log_tail"] = server.log.read_text(errors="replace")[-2000:]
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    result["seconds"] = time.monotonic() - began
    log(f"{name} on {database}: done in {result['seconds']:.0f} s")
    return result


def _run_workload(
    workload: Any,
    bench: Bench,
    server: Server,
    database: str,
    args: argparse.Namespace,
    result: dict[str, Any],
    profiles: dict[str, list[str]],
) -> None:
    began = time.monotonic()
    profiler = None
    if args.profile and bench.server_name == "runyard":
        profiler = Profiler(server.pid, OUT / f"profile-{database}-{workload.name}")
    try:
        if profiler:
            profiler.start()
        try:
            values = workload.run(bench)
        finally:
            if profiler:
                profiles[f"{database} / {workload.name}"] = profiler.stop()
        result["metrics"].update(values)
        shown = ", ".join(f"{key} {value:,.1f}" for key, value in values.items())
        log(f"{bench.server_name} on {database}: {workload.name}: {shown}")
    except Unavailable as missing:
        for key in workload.keys:
            result["notes"][key] = "not available yet"
        result["notes"][f"{workload.name}:reason"] = str(missing)
        log(f"{bench.server_name} on {database}: {workload.name}: not available ({missing})")
    except Exception as error:
        traceback.print_exc()
        for key in workload.keys:
            result["notes"][key] = "error"
        result["errors"].append(f"{workload.name}: {error.__class__.__name__}: {str(error)[:300]}")
        log(f"{bench.server_name} on {database}: {workload.name}: ERROR {error}")
    result["workload_seconds"][workload.name] = time.monotonic() - began


def _git_commit() -> str:
    done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True)
    return done.stdout.strip() or "unknown"


def _version(command: list[str]) -> str:
    done = subprocess.run(command, capture_output=True, text=True)
    return done.stdout.strip().split()[-1] if done.returncode == 0 and done.stdout.strip() else "unknown"


def _machine() -> str:
    cpu = platform.processor() or platform.machine()
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    memory = psutil.virtual_memory().total / 2**30
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    return f"{os.cpu_count()} cores ({cpu}), {memory:.0f} GiB RAM, Linux {platform.release()}, load at start {load}"


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bench/run", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes for a fast smoke run")
    parser.add_argument("--databases", default="sqlite,postgresql", help="comma-separated: sqlite,postgresql")
    parser.add_argument("--servers", default="runyard,mlflow", help="comma-separated: runyard,mlflow")
    parser.add_argument("--workloads", default="", help=f"comma-separated subset of: {','.join(w.name for w in ALL)}")
    parser.add_argument(
        "--set", action="append", default=[], metavar="SIZE=N", help="override one size, e.g. --set runs=2000"
    )
    parser.add_argument("--mlflow-workers", type=int, default=DEFAULT_MLFLOW_WORKERS)
    parser.add_argument("--settle", type=float, default=5.0, help="seconds to wait before the idle RSS sample")
    parser.add_argument("--profile", action="store_true", help="record runyard under each workload with py-spy")
    parser.add_argument("--note", default="", help="a remark printed in the results header")
    parser.add_argument(
        "--output", type=Path, help="results markdown (default bench/RESULTS.md; bench/out/RESULTS-quick.md)"
    )
    parser.add_argument("--render", type=Path, help="only re-render the markdown from a results JSON file")
    args = parser.parse_args(argv)
    args.databases = [d for d in args.databases.split(",") if d]
    args.servers = [s for s in args.servers.split(",") if s]
    args.workloads = {w for w in args.workloads.split(",") if w}
    unknown = args.workloads - {w.name for w in ALL}
    if unknown:
        parser.error(f"unknown workloads: {', '.join(sorted(unknown))}")
    if args.output is None:
        args.output = OUT / "RESULTS-quick.md" if args.quick else BENCH / "RESULTS.md"
    return args


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    OUT.mkdir(exist_ok=True)
    if args.render:
        args.output.write_text(render(json.loads(args.render.read_text())))
        log(f"wrote {args.output}")
        return 0
    sizes = QUICK if args.quick else FULL
    for override in args.set:
        name, _, value = override.partition("=")
        if name not in Sizes.__dataclass_fields__ or not value.isdigit():
            raise SystemExit(
                f"--set {override}: expected SIZE=N with SIZE one of {', '.join(Sizes.__dataclass_fields__)}"
            )
        sizes = replace(sizes, **{name: int(value)})
    started = datetime.now(UTC)
    began = time.monotonic()
    results: dict[str, Any] = {
        "meta": {
            "started": f"{started:%Y-%m-%d %H:%M} UTC",
            "machine": _machine(),
            "commit": _git_commit(),
            "runyard_version": _version([str(REPO / ".venv" / "bin" / "runyard"), "--version"]),
            "runyard_config": "`runyard server --no-local-pool`, 1 worker, artifacts in a local directory",
            "mlflow_version": _version([str(MLFLOW_BIN), "--version"]),
            "mlflow_config": f"`mlflow server --workers {args.mlflow_workers}`, job runner off "
            "(MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false), `--artifacts-destination` a local directory",
            "sizes": ("quick: " if args.quick else "") + sizes.describe() + (" (overridden)" if args.set else ""),
            "note": args.note,
        },
        "databases": {},
        "profiles": {},
    }
    log(f"sizes: {sizes.describe()}")
    shared = Path(tempfile.mkdtemp(prefix="bench-shared-"))
    try:
        for database in args.databases:
            section: dict[str, Any] = {"servers": {}}
            results["databases"][database] = section
            if not args.workloads or "artifacts" in args.workloads:
                section["copy_mb_s"] = copy_baseline(shared, sizes.artifact_mb, sizes.artifact_repeats, shared)
                log(f"{database}: plain file copy {section['copy_mb_s']:,.0f} MB/s")
            for name in args.servers:
                section["servers"][name] = run_server(name, database, sizes, shared, args, results["profiles"])
                _save(results, began, args)
    finally:
        shutil.rmtree(shared, ignore_errors=True)
    _save(results, began, args)
    log(f"wrote {args.output} and {OUT / 'results.json'} in {(time.monotonic() - began) / 60:.1f} min")
    return 0


def _save(results: dict[str, Any], began: float, args: argparse.Namespace) -> None:
    """Write JSON and markdown after every server so an interrupted run still leaves its figures."""
    results["meta"]["wall_minutes"] = (time.monotonic() - began) / 60
    stamp = results["meta"]["started"].replace(" ", "_").replace(":", "")
    text = json.dumps(results, indent=2)
    (OUT / "results.json").write_text(text)
    (OUT / f"results-{stamp}.json").write_text(text)
    args.output.write_text(render(results))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
