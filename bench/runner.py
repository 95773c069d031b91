"""Run every workload against runyard and MLflow on each database and write ``RESULTS.md``.

Invoked by ``bench/run`` with runyard's own interpreter; MLflow runs from ``bench/.venv-mlflow``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import psutil

from httpclient import Unavailable, make_client
from profiling import Profiler
from report import render
from servers import MLFLOW_BIN, REPO, PeakSampler, Server, fresh_database, start_mlflow, start_runyard, tree_rss
from sizes import FULL, QUICK, Sizes
from workloads import ALL, Bench, Workload

BENCH = REPO / "bench"
OUT = BENCH / "out"
# Chosen by measuring 1, 2 and 4 workers with this suite's workloads: see docs/benchmarks.md.
DEFAULT_MLFLOW_WORKERS = 1
MB = 1_000_000


def log(message: str) -> None:
    print(f"[{datetime.now():%H:%M:%S}] {message}", flush=True)


def _idle_rss(server: Server) -> float:
    """Tree RSS once start-up has settled: the highest of three samples half a second apart."""
    samples = []
    for _ in range(3):
        samples.append(tree_rss(server.pid))
        time.sleep(0.5)
    return max(samples) / MB


@dataclass
class Contender:
    """One server under test on one database, with what has been measured so far."""

    name: str
    server: Server
    bench: Bench
    result: dict[str, Any] = field(
        default_factory=lambda: {"metrics": {}, "notes": {}, "errors": [], "extras": {}, "workload_seconds": {}}
    )


def _start(
    name: str, database: str, sizes: Sizes, shared: Path, args: argparse.Namespace, stack: contextlib.ExitStack
) -> Contender:
    scratch = Path(tempfile.mkdtemp(prefix=f"bench-{name}-{database}-"))
    stack.callback(shutil.rmtree, scratch, ignore_errors=True)
    url = stack.enter_context(fresh_database(database, scratch))
    server = start_runyard(url, scratch) if name == "runyard" else start_mlflow(url, scratch, args.mlflow_workers)
    stack.callback(server.stop)
    clients = [make_client(server.base_url) for _ in range(sizes.clients)]
    for client in clients:
        stack.callback(client.close)
    seed_directly = name == "mlflow" and args.mlflow_seed == "direct"
    log(f"{name} on {database}: up at {server.base_url} (pid {server.pid})")
    return Contender(name, server, Bench(name, url, clients, sizes, scratch, shared, seed_directly))


def run_database(
    database: str, sizes: Sizes, shared: Path, args: argparse.Namespace, profiles: dict[str, list[str]]
) -> dict[str, Any]:
    """Start every server on its own fresh database, then run each workload on each server in turn.

    Interleaving (workload 1 on runyard, then on MLflow, then workload 2 …) keeps both servers'
    figures for a workload within the same minute, so drifting load on a shared machine hits both.
    """
    section: dict[str, Any] = {"servers": {}}
    with contextlib.ExitStack() as stack:
        contenders = []
        for name in args.servers:
            try:
                contenders.append(_start(name, database, sizes, shared, args, stack))
            except Exception as error:
                section["servers"][name] = {"errors": [f"server did not start: {error}"[:2000]]}
                log(f"{name} on {database}: did not start: {error}")
        time.sleep(args.settle)
        for contender in contenders:
            section["servers"][contender.name] = contender.result
            contender.result["metrics"]["idle_rss_mb"] = _idle_rss(contender.server)
            contender.result["processes"] = len(psutil.Process(contender.server.pid).children(recursive=True)) + 1
            log(
                f"{contender.name} on {database}: idle RSS {contender.result['metrics']['idle_rss_mb']:.0f} MB "
                f"in {contender.result['processes']} processes"
            )
        samplers = [PeakSampler(c.server.pid).start() for c in contenders]
        for sampler in samplers:
            stack.callback(sampler.stop)
        for workload in ALL:
            if args.workloads and workload.name not in args.workloads:
                continue
            for contender in contenders:
                _run_workload(workload, contender, database, args, profiles)
        for contender, sampler in zip(contenders, samplers, strict=True):
            contender.result["metrics"]["peak_rss_mb"] = sampler.stop() / MB
            contender.result["extras"] = contender.bench.extras
            contender.result["log_tail"] = contender.server.log.read_text(errors="replace")[-2000:]
    return section


@contextlib.contextmanager
def _profiled(pid: int, database: str, profiles: dict[str, list[str]], label: str) -> Iterator[None]:
    """py-spy on the server for one timed section; its summary is kept under ``database / label``."""
    profiler = Profiler(pid, OUT / f"profile-{database}-{label}")
    profiler.start()
    try:
        yield
    finally:
        profiles[f"{database} / {label}"] = profiler.stop()
        log(f"profile of {label} on {database}: {profiler.raw}")


def _run_workload(
    workload: Workload, contender: Contender, database: str, args: argparse.Namespace, profiles: dict[str, list[str]]
) -> None:
    began = time.monotonic()
    name, result = contender.name, contender.result
    if args.profile and name == "runyard":
        contender.bench.on_measure = partial(_profiled, contender.server.pid, database, profiles)
    try:
        values = workload.run(contender.bench)
        result["metrics"].update(values)
        shown = ", ".join(f"{key} {value:,.1f}" for key, value in values.items())
        log(f"{name} on {database}: {workload.name}: {shown}")
    except Unavailable as missing:
        for key in workload.keys:
            result["notes"][key] = "not available yet"
        result["notes"][f"{workload.name}:reason"] = str(missing)
        log(f"{name} on {database}: {workload.name}: not available ({missing})")
    except Exception as error:
        traceback.print_exc()
        for key in workload.keys:
            result["notes"][key] = "error"
        result["errors"].append(f"{workload.name}: {error.__class__.__name__}: {str(error)[:300]}")
        log(f"{name} on {database}: {workload.name}: ERROR {error}")
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
        "--set", action="append", default=[], metavar="SIZE=N", help="override one size, e.g. --set search_runs=2000"
    )
    parser.add_argument("--mlflow-workers", type=int, default=DEFAULT_MLFLOW_WORKERS, help="mlflow server --workers")
    parser.add_argument(
        "--mlflow-seed",
        choices=("direct", "rest"),
        default="direct",
        help="load MLflow's 10,000-run and 10,000-model data sets into its database directly (default) or via REST",
    )
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
            results["databases"][database] = run_database(database, sizes, shared, args, results["profiles"])
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
