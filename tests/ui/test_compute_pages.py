"""Recipes, Jobs (with the live log) and Pools in the browser, against a live server and a fake agent."""

from __future__ import annotations

import re
import time
from pathlib import Path

from playwright.sync_api import Page, expect

from runyard.client import Client
from tests.support.compute import FakeAgent, unique, write_recipe
from tests.support.servers import LiveServer

SCHEMA = {
    "type": "object",
    "required": ["epochs"],
    "properties": {
        "epochs": {"type": "integer", "minimum": 1},
        "optimizer": {"type": "string", "enum": ["adam", "sgd"], "default": "adam"},
    },
}


def test_submit_from_a_recipe_follow_the_live_log_then_retry_and_cancel(
    page: Page, ui_server: LiveServer, tmp_path: Path
) -> None:
    client = Client(ui_server.url)
    recipe, queue, pool = unique("ui-recipe"), unique("q"), unique("pool")
    client.push_recipe(write_recipe(tmp_path / recipe, recipe, parameters=SCHEMA))
    client.put_pool(pool, gpus_per_replica=0, queues=[queue])

    page.goto("/")
    page.get_by_role("navigation").get_by_role("link", name="Recipes", exact=True).click()
    page.get_by_role("link", name=recipe).click()
    expect(page.get_by_role("heading", name="Submit a job")).to_be_visible()
    page.get_by_role("button", name="Submit job").click()
    expect(page.get_by_text("required", exact=True)).to_be_visible()  # the schema's required field, checked in the form
    page.get_by_label("epochs").fill("3")
    page.get_by_label("queue").fill(queue)
    page.get_by_role("button", name="Submit job").click()
    heading = page.get_by_role("heading", name=re.compile(r"^Job \d+"))
    expect(heading).to_contain_text("queued")
    job_id = re.search(r"Job (\d+)", heading.inner_text()).group(1)  # type: ignore[union-attr]
    assert client.get_job(job_id)["parameters"] == {"epochs": 3, "optimizer": "adam"}

    agent = FakeAgent(client, pool, gpus=[]).register()
    assignment = agent.claim()
    assert assignment is not None and assignment["job_id"] == job_id
    client.report_status(job_id, 1, "running")
    expect(heading).to_contain_text("running")
    started = time.monotonic()
    client.append_logs(job_id, 1, [{"stream": "stdout", "line": f"epoch {i} loss {1 / (i + 1):.3f}"} for i in range(3)])
    log = page.get_by_test_id("log-lines")
    expect(log).to_contain_text("epoch 2 loss 0.333", timeout=5000)
    assert time.monotonic() - started < 2.5, "a new log line shows within about 2 s"
    page.get_by_label("Search log").fill("epoch 1")
    expect(page.get_by_text("1 matches")).to_be_visible()

    # The attempt's tracking run links back to its job.
    page.get_by_role("region", name="Details").get_by_role("link", name=assignment["run_id"]).click()
    expect(page.get_by_role("region", name="Overview").get_by_role("link", name=job_id, exact=True)).to_be_visible()
    page.go_back()
    expect(heading).to_contain_text("running")

    client.report_status(job_id, 1, "failed", exit_code=1, reason="boom")
    expect(heading).to_contain_text("failed")
    page.get_by_role("button", name="Retry").click()
    expect(heading).to_contain_text("queued")
    page.get_by_role("button", name="Cancel").click()
    expect(heading).to_contain_text("cancelled")

    page.get_by_role("navigation").get_by_role("link", name="Jobs", exact=True).click()
    page.get_by_label("Queue").fill(queue)
    expect(page.get_by_role("link", name=f"Job {job_id}")).to_be_visible()

    page.get_by_role("navigation").get_by_role("link", name="Pools", exact=True).click()
    expect(page.get_by_role("region", name="Compute pools").get_by_role("cell", name=pool, exact=True)).to_be_visible()
    expect(page.get_by_role("region", name="Queues").get_by_role("cell", name=queue, exact=True)).to_be_visible()
    expect(page.get_by_role("region", name="Workers").get_by_role("cell", name=agent.worker_id)).to_be_visible()
