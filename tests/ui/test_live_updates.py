"""Live updates in the browser: points, runs and jobs appear within 2 s of being written, without a reload.

Data is written through the real mlflow client (and the runyard SDK for jobs) while the page is open;
the page learns of it over the server's live streams, keeping the user's zoom.
"""

from __future__ import annotations

import re
from pathlib import Path

from mlflow import MlflowClient
from mlflow.entities import Metric
from playwright.sync_api import Page, expect

from runyard.client import Client
from tests.conftest import unique
from tests.support.compute import write_recipe
from tests.support.servers import LiveServer

WITHIN = 2_000  # ms: a new point, run or job state on screen


def _points(label_text: str) -> tuple[int, int]:
    shown, total = re.fullmatch(r"([\d,]+) of ([\d,]+) points", label_text).groups()  # type: ignore[union-attr]
    return int(shown.replace(",", "")), int(total.replace(",", ""))


def test_a_logged_point_appears_on_the_open_chart_and_the_zoom_is_kept(page: Page, tracking: MlflowClient) -> None:
    experiment_id = tracking.create_experiment(unique("ui-live"))
    run_id = tracking.create_run(experiment_id, run_name="live").info.run_id
    tracking.log_batch(run_id, metrics=[Metric("loss", 1.0 / (s + 1), 1_000 + s, s) for s in range(100)])
    page.goto(f"/#/experiments/{experiment_id}/runs/{run_id}")
    chart = page.get_by_test_id("chart-loss")
    label = chart.locator(".points-label")
    expect(label).to_have_text("100 of 100 points")

    tracking.log_metric(run_id, "loss", 0.5, step=100)
    expect(label).to_have_text("101 of 101 points", timeout=WITHIN)

    # Zoom into the middle of the series by dragging across the plot.
    area = chart.locator(".u-over").bounding_box()
    assert area is not None
    y = area["y"] + area["height"] / 2
    page.mouse.move(area["x"] + area["width"] * 0.3, y)
    page.mouse.down()
    page.mouse.move(area["x"] + area["width"] * 0.6, y, steps=5)
    page.mouse.up()
    expect(chart.get_by_role("button", name="Reset zoom")).to_be_visible()
    expect(label).not_to_have_text("101 of 101 points")
    shown, in_range = _points(label.inner_text())
    assert 10 < in_range < 60

    # A point inside the zoomed range (step 45, again) and one beyond it: only the first is counted,
    # so the chart still shows the zoomed range, now with the new point.
    tracking.log_batch(run_id, metrics=[Metric("loss", 3.0, 9_000, 45), Metric("loss", 0.1, 9_001, 500)])
    expect(label).to_have_text(f"{shown + 1} of {in_range + 1} points", timeout=WITHIN)
    expect(chart.get_by_role("button", name="Reset zoom")).to_be_visible()

    chart.get_by_role("button", name="Reset zoom").click()
    expect(label).to_have_text("103 of 103 points")


def test_a_new_run_appears_in_the_open_runs_table(page: Page, tracking: MlflowClient) -> None:
    experiment_id = tracking.create_experiment(unique("ui-live-table"))
    first = tracking.create_run(experiment_id, run_name="first").info.run_id
    page.goto(f"/#/experiments/{experiment_id}")
    table = page.get_by_role("table", name="Runs")
    expect(table.get_by_role("row")).to_have_count(2)  # header + 1 run
    expect(table.get_by_role("row").nth(1)).to_contain_text("RUNNING")

    tracking.create_run(experiment_id, run_name="second")
    expect(table.get_by_role("row").filter(has_text="second")).to_have_count(1, timeout=WITHIN)
    tracking.set_terminated(first)
    expect(table.get_by_role("row").filter(has_text="first")).to_contain_text("FINISHED", timeout=WITHIN)


def test_job_state_changes_appear_on_the_jobs_list_and_job_page(
    page: Page, ui_server: LiveServer, tmp_path: Path
) -> None:
    client = Client(ui_server.url)
    recipe, queue, pool = unique("live-job"), unique("q"), unique("pool")
    client.push_recipe(write_recipe(tmp_path / "recipe", recipe))
    client.put_pool(pool, gpus_per_replica=0, queues=[queue])
    page.goto("/#/jobs")
    page.get_by_label("Queue").fill(queue)
    expect(page.get_by_text("No jobs.")).to_be_visible()

    job = client.submit_job(recipe, queue=queue)
    row = page.get_by_role("row").filter(has_text=f"Job {job['job_id']}")
    expect(row).to_contain_text("queued", timeout=WITHIN)

    row.get_by_role("link", name=f"Job {job['job_id']}").click()
    expect(page.get_by_role("heading", name=re.compile(f"^Job {job['job_id']}"))).to_contain_text("queued")
    client.cancel_job(job["job_id"])
    expect(page.get_by_role("heading", name=re.compile(f"^Job {job['job_id']}"))).to_contain_text(
        "cancelled", timeout=WITHIN
    )
