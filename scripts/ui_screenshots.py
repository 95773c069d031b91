"""Regenerate the screenshots in docs/ui.md: a throwaway server with demo data, photographed by chromium.

Run: .venv/bin/python scripts/ui_screenshots.py   (needs the built UI: scripts/build-ui, and /usr/bin/chromium)
"""

from __future__ import annotations

import math
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import yaml

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "images"
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start_server(data_dir: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RUNYARD_", "MLFLOW_"))}
    env["RUNYARD_LOCAL_POOL"] = "false"
    process = subprocess.Popen(
        [sys.executable, "-m", "runyard", "server", "--port", str(port), "--data-dir", str(data_dir)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if httpx.get(f"{url}/ready", timeout=1).status_code == 200:
                return process, url
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    process.kill()
    raise SystemExit("the server did not start")


def _seed_tracking(url: str) -> dict[str, str]:
    from mlflow import MlflowClient
    from mlflow.entities import Metric, Param, RunTag

    os.environ["MLFLOW_TRACKING_URI"] = url
    client = MlflowClient(url)
    experiment_id = client.create_experiment("image-classifier")
    client.create_experiment("tokenizer-sweep")
    run_ids = []
    for i, (lr, optimizer) in enumerate([(0.1, "sgd"), (0.03, "adam"), (0.01, "adam"), (0.003, "adamw")]):
        run_id = client.create_run(experiment_id, run_name=f"resnet-{optimizer}-{lr}").info.run_id
        start = 1_700_000_000_000
        metrics = [
            Metric("train/loss", math.exp(-s / (300 + 80 * i)) + 0.02 * math.sin(s / 7) + 0.05, start + s, s)
            for s in range(0, 5000)
        ]
        metrics += [
            Metric("val/accuracy", 0.7 + 0.05 * i * (1 - math.exp(-s / 800)), start + s, s) for s in range(0, 5000, 100)
        ]
        for offset in range(0, len(metrics), 1000):
            client.log_batch(run_id, metrics=metrics[offset : offset + 1000])
        client.log_batch(
            run_id,
            params=[Param("lr", str(lr)), Param("optimizer", optimizer), Param("epochs", "50")],
            tags=[RunTag("team", "vision")],
        )
        client.log_dict(run_id, {"lr": lr, "optimizer": optimizer, "layers": [64, 128, 256]}, "config.json")
        client.log_text(run_id, "epoch,val_accuracy\n1,0.61\n2,0.68\n3,0.72\n", "eval/summary.csv")
        client.set_terminated(run_id)
        run_ids.append(run_id)
    client.log_text(run_ids[2], "flavors:\n  python_function: {}\n", "model/MLmodel")
    client.create_registered_model("image-classifier")
    client.create_model_version("image-classifier", f"runs:/{run_ids[2]}/model", run_id=run_ids[2])
    client.set_registered_model_alias("image-classifier", "champion", "1")
    return {"experiment_id": experiment_id, "run_id": run_ids[2], "compare": ",".join(run_ids)}


def _seed_compute(url: str, directory: Path) -> str:
    from runyard.client import Client

    client = Client(url)
    recipe = directory / "recipe"
    recipe.mkdir()
    manifest = {
        "name": "train-classifier",
        "description": "Fine-tune an image classifier",
        "entrypoint": "train.py",
        "parameters": {
            "type": "object",
            "required": ["epochs"],
            "properties": {
                "epochs": {"type": "integer", "default": 10},
                "lr": {"type": "number", "default": 0.01},
                "optimizer": {"type": "string", "enum": ["adam", "sgd"], "default": "adam"},
            },
        },
    }
    (recipe / "runyard.yaml").write_text(yaml.safe_dump(manifest))
    (recipe / "train.py").write_text("print('training')\n")
    client.push_recipe(recipe)
    client.put_pool("a100", gpus_per_replica=0, queues=["default"])
    job = client.submit_job("train-classifier", parameters={"epochs": 3})
    worker = client.register_worker(name="gpu-node-1", pool="a100", hostname="gpu-node-1", gpus=[], slots=2)
    assignment = client.claim(worker["worker_id"], 5)
    assert assignment is not None
    client.report_status(job["job_id"], 1, "running")
    lines = [
        {"stream": "stdout", "line": f"epoch {e} step {s} loss {math.exp(-s / 400):.4f}"}
        for e in range(3)
        for s in range(0, 1000, 25)
    ]
    client.append_logs(job["job_id"], 1, lines)
    client.submit_job("train-classifier", parameters={"epochs": 20, "optimizer": "sgd"})
    return str(job["job_id"])


def main() -> None:
    from playwright.sync_api import sync_playwright

    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        process, url = _start_server(Path(tmp) / "data")
        try:
            ids = _seed_tracking(url)
            job_id = _seed_compute(url, Path(tmp))
            pages = {
                "experiments": "/#/experiments",
                "runs": f"/#/experiments/{ids['experiment_id']}",
                "run": f"/#/experiments/{ids['experiment_id']}/runs/{ids['run_id']}",
                "compare": f"/#/compare?runs={ids['compare']}",
                "model-version": "/#/models/image-classifier/versions/1",
                "jobs": "/#/jobs",
                "job": f"/#/jobs/{job_id}",
                "recipe": "/#/recipes/train-classifier",
                "pools": "/#/pools",
            }
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=LAUNCH_ARGS)
                page = browser.new_page(base_url=url, viewport={"width": 1400, "height": 900})
                for name, path in pages.items():
                    page.goto(path)
                    # Not "networkidle": the job page holds its live log stream open.
                    page.wait_for_timeout(2000)
                    page.screenshot(path=str(OUT / f"ui-{name}.png"))
                    print(f"wrote docs/images/ui-{name}.png")
                browser.close()
        finally:
            process.terminate()
            process.wait(15)


if __name__ == "__main__":
    main()
