"""What authentication costs a log-metric, in server CPU: runyard with auth off, runyard with auth on
(a non-admin user by Basic credentials, and by an API token), and MLflow 3.17.2's basic-auth app —
same machine, same run, SQLite, the same requests from the same clients.

    .venv/bin/python bench/auth.py [--requests N] [--clients K] [--rounds R]

Each user creates its own experiment (so it manages it, on both servers) and logs one metric per
request. All servers run side by side and are measured in turn, ``--rounds`` times, so a change in the
machine's load touches every case alike; each case's figure is its median round. Reported: server
CPU (user + system, the whole process tree) per 1,000 requests, requests per second, and auth on
relative to auth off. Writes bench/out/auth.json and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.httpclient import make_client
from bench.servers import MLFLOW_BIN, RUNYARD_BIN, Server, _clean_environment, _launch, free_port

API = "/api/2.0/mlflow"
ADMIN_PASSWORD = "bench admin password"
USER, USER_PASSWORD = "bench-user", "bench user password"
MLFLOW_ADMIN = ("admin", "bench mlflow admin password")  # MLflow's bootstrap admin (MLFLOW_AUTH_ADMIN_PASSWORD)
OUT = Path(__file__).resolve().parent / "out"


def _basic(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


def _cpu_seconds(pid: int) -> float:
    total = 0.0
    try:
        root = psutil.Process(pid)
        for process in [root, *root.children(recursive=True)]:
            times = process.cpu_times()
            total += times.user + times.system
    except psutil.NoSuchProcess:
        pass
    return total


def _runyard(scratch: Path, auth: bool, name: str) -> Server:
    env = _clean_environment()
    if auth:
        env.update(
            {
                "RUNYARD_AUTH_ENABLED": "true",
                "RUNYARD_COOKIE_SECRET": "b" * 64,
                "RUNYARD_ADMIN_USERNAME": "admin",
                "RUNYARD_ADMIN_PASSWORD": ADMIN_PASSWORD,
            }
        )
    port = free_port()
    data_dir = scratch / name
    command = [str(RUNYARD_BIN), "server", "--host", "127.0.0.1", "--port", str(port), "--data-dir", str(data_dir),
               "--no-local-pool"]  # fmt: skip
    return _launch(name, command, env, scratch, port)


def _mlflow_basic_auth(scratch: Path) -> Server:
    binary = MLFLOW_BIN if MLFLOW_BIN.exists() else Path(sys.executable).parent / "mlflow"
    env = _clean_environment() | {
        "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
        "MLFLOW_FLASK_SERVER_SECRET_KEY": "bench-secret-key",
        "MLFLOW_AUTH_ADMIN_PASSWORD": MLFLOW_ADMIN[1],
    }
    workdir = scratch / "mlflow-auth"
    workdir.mkdir()
    port = free_port()
    command = [str(binary), "server", "--app-name", "basic-auth", "--host", "127.0.0.1", "--port", str(port),
               "--backend-store-uri", f"sqlite:///{workdir}/mlflow.db", "--artifacts-destination",
               str(workdir / "artifacts"), "--workers", "1"]  # fmt: skip
    return _launch("mlflow-basic-auth", command, env, workdir, port)


def _setup_user(server: Server, admin: tuple[str, str] | None, role_api: bool) -> dict[str, str]:
    """A non-admin user (auth on) and its headers; auth off: no credential at all."""
    if admin is None:
        return {}
    with httpx.Client(base_url=server.base_url, headers={"Authorization": _basic(*admin)}) as client:
        created = client.post(f"{API}/users/create", json={"username": USER, "password": USER_PASSWORD})
        assert created.status_code == 200, created.text
        if role_api:  # runyard: the built-in editor role lets the user create experiments
            roles = client.get("/api/3.0/mlflow/roles/list", params={"workspace": "default"}).json()["roles"]
            editor = next(role["id"] for role in roles if role["name"] == "editor")
            client.post("/api/3.0/mlflow/roles/assign", json={"username": USER, "role_id": editor}).raise_for_status()
    return {"Authorization": _basic(USER, USER_PASSWORD)}


def _token(server: Server, headers: dict[str, str]) -> dict[str, str]:
    with httpx.Client(base_url=server.base_url, headers=headers) as client:
        answer = client.post("/api/v1/tokens", json={"name": "bench"})
        answer.raise_for_status()
        return {"Authorization": f"Bearer {answer.json()['token']}"}


class _Case:
    """One server under measurement: its clients (with credentials) and its runs, set up once."""

    def __init__(self, server: Server, headers: dict[str, str], clients: int) -> None:
        self.server = server
        self.http = [make_client(server.base_url) for _ in range(clients)]
        for client in self.http:
            client.headers.update(headers)
        experiment = self.http[0].post(f"{API}/experiments/create", json={"name": f"auth-bench-{time.monotonic_ns()}"})
        experiment.raise_for_status()
        experiment_id = experiment.json()["experiment_id"]
        self.run_ids = []
        for client in self.http:
            run = client.post(f"{API}/runs/create", json={"experiment_id": experiment_id, "start_time": 0})
            run.raise_for_status()
            self.run_ids.append(run.json()["run"]["info"]["run_id"])
        self.step = 0
        # Warm up (first requests pay for caches and lazily built objects on every server alike).
        self._run(5 * clients)

    def _run(self, requests: int) -> None:
        clients, first = len(self.http), self.step
        self.step += requests

        def loop(index: int) -> None:
            client, run_id = self.http[index], self.run_ids[index]
            for j in range(first + index, first + requests, clients):
                body = {"run_id": run_id, "key": "loss", "value": 1.0 / (j + 1), "timestamp": j, "step": j}
                answer = client.post(f"{API}/runs/log-metric", json=body)
                if answer.status_code != 200:
                    raise RuntimeError(f"{self.server.name}: {answer.status_code} {answer.text[:200]}")

        threads = [threading.Thread(target=loop, args=(index,)) for index in range(clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    def measure(self, requests: int) -> dict[str, float]:
        cpu_before, started = _cpu_seconds(self.server.pid), time.perf_counter()
        self._run(requests)
        seconds = time.perf_counter() - started
        cpu = _cpu_seconds(self.server.pid) - cpu_before
        return {"cpu_ms_per_1000": cpu / requests * 1_000_000, "requests_per_s": requests / seconds}

    def close(self) -> None:
        for client in self.http:
            client.close()


def _median(rounds: list[dict[str, float]]) -> dict[str, float]:
    ordered = sorted(rounds, key=lambda figures: figures["cpu_ms_per_1000"])
    return ordered[len(ordered) // 2] | {"rounds": len(rounds)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument(
        "--mlflow-requests", type=int, default=200, help="MLflow's basic-auth app hashes the password per request"
    )
    parser.add_argument(
        "--rounds", type=int, default=5, help="Measure every case this many times in turn (requests split evenly)"
    )
    parser.add_argument("--no-mlflow", action="store_true", help="Measure runyard's cases only.")
    options = parser.parse_args()
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="runyard-auth-bench-") as scratch_dir:
        scratch = Path(scratch_dir)
        editor = ("admin", ADMIN_PASSWORD)
        cases: list[tuple[str, Callable[[], Server], Callable[[Server], dict[str, str]]]] = [
            ("runyard, auth off", lambda: _runyard(scratch, False, "off"), lambda s: {}),
            ("runyard, auth on (Basic)", lambda: _runyard(scratch, True, "basic"),
             lambda s: _setup_user(s, editor, True)),
            ("runyard, auth on (token)", lambda: _runyard(scratch, True, "token"),
             lambda s: _token(s, _setup_user(s, editor, True))),
            ("MLflow 3.17.2 basic-auth (Basic)", lambda: _mlflow_basic_auth(scratch),
             lambda s: _setup_user(s, MLFLOW_ADMIN, False)),
        ]  # fmt: skip
        if options.no_mlflow:
            cases = cases[:3]
        started: dict[str, _Case] = {}
        try:
            for label, start, credentials in cases:
                server = start()
                try:
                    started[label] = _Case(server, credentials(server), options.clients)
                except BaseException:
                    server.stop()
                    raise
            rounds: dict[str, list[dict[str, float]]] = {label: [] for label in started}
            for index in range(options.rounds):
                for label, case in started.items():
                    count = options.mlflow_requests if label.startswith("MLflow") else options.requests
                    figures = case.measure(max(1, count // options.rounds))
                    rounds[label].append(figures)
                    print(f"round {index + 1}, {label}: {figures}", file=sys.stderr, flush=True)
            results = {label: _median(figures) for label, figures in rounds.items()}
        finally:
            for case in started.values():
                case.close()
                case.server.stop()
    OUT.mkdir(exist_ok=True)
    (OUT / "auth.json").write_text(json.dumps({"requests": options.requests, "clients": options.clients,
                                               "rounds": options.rounds, "results": results}, indent=2))  # fmt: skip
    baseline = results["runyard, auth off"]["cpu_ms_per_1000"]
    print(
        f"log-metric, {options.requests:,} requests from {options.clients} clients in {options.rounds} rounds "
        "(median round), SQLite, one server process each\n"
    )
    print("| server | server CPU per 1,000 requests | vs runyard auth off | requests/s |")
    print("|---|---|---|---|")
    for label, figures in results.items():
        ratio = figures["cpu_ms_per_1000"] / baseline
        print(
            f"| {label} | {figures['cpu_ms_per_1000'] / 1000:.2f} s | {ratio:.2f}× | {figures['requests_per_s']:.0f} |"
        )


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
