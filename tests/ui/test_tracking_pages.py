"""Experiments, runs table, run page, compare and models, as a person uses them in the browser."""

from __future__ import annotations

import re

from mlflow import MlflowClient
from playwright.sync_api import Page, expect

from tests.conftest import unique
from tests.ui.conftest import ConsoleLog
from tests.ui.seed import seed_experiment


def test_every_navigation_name_opens_its_page(page: Page) -> None:
    page.goto("/")
    expect(page.get_by_role("heading", name="Experiments")).to_be_visible()
    expect(page.get_by_role("button", name="User menu")).to_have_count(0)  # auth off: no user menu
    for name in ["Models", "Traces", "Jobs", "Recipes", "Pools", "Experiments"]:
        page.get_by_role("navigation").get_by_role("link", name=name, exact=True).click()
        expect(page.get_by_role("heading", name=name, exact=True)).to_be_visible()
    # The Traces page lists the visible experiments' traces (other tests on this server may have made
    # some), or says there are none; it never shows an error.
    page.get_by_role("navigation").get_by_role("link", name="Traces", exact=True).click()
    expect(page.get_by_text("No traces.").or_(page.get_by_role("columnheader", name="Trace"))).to_be_visible()
    expect(page.get_by_role("alert")).to_have_count(0)


def test_create_rename_delete_and_restore_an_experiment(page: Page) -> None:
    name = unique("made-in-ui")
    page.goto("/#/experiments")
    page.get_by_label("New experiment name").fill(name)
    page.get_by_role("button", name="Create experiment").click()
    page.get_by_label("Search experiments").fill(name)
    row = page.get_by_role("row").filter(has_text=name)
    expect(row).to_have_count(1)

    row.get_by_role("button", name="Rename").click()
    page.get_by_label("New name").fill(name + "-renamed")
    page.get_by_role("button", name="Save").click()
    renamed = page.get_by_role("row").filter(has_text=name + "-renamed")
    expect(renamed).to_have_count(1)

    renamed.get_by_role("button", name="Delete").click()
    expect(page.get_by_text("No experiments.")).to_be_visible()
    page.get_by_label("Show deleted").check()
    page.get_by_role("row").filter(has_text=name + "-renamed").get_by_role("button", name="Restore").click()
    expect(page.get_by_text("No experiments.")).to_be_visible()
    page.get_by_label("Show deleted").uncheck()
    expect(page.get_by_role("row").filter(has_text=name + "-renamed")).to_have_count(1)


def test_runs_table_filters_sorts_chooses_columns_and_compares(
    page: Page, tracking: MlflowClient, console: ConsoleLog
) -> None:
    experiment = seed_experiment(tracking, runs=3)
    page.goto(f"/#/experiments/{experiment.experiment_id}")  # the link the mlflow client prints
    expect(page.get_by_role("heading", name=experiment.name)).to_be_visible()
    table = page.get_by_role("table", name="Runs")
    expect(table.get_by_role("row")).to_have_count(4)  # header + 3 runs

    page.get_by_label("Filter runs").fill("metrics.accuracy > 0.65 AND (params.optimizer = 'adam' OR tags.team = 'x')")
    page.get_by_role("button", name="Search").click()
    expect(table.get_by_role("row")).to_have_count(3)

    console.expected.append("/runs/search")  # the server's 400 for a bad filter is shown inline
    page.get_by_label("Filter runs").fill("metrics.accuracy >>> 1")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_role("alert")).to_contain_text("accuracy")

    page.get_by_label("Filter runs").fill("")
    page.get_by_role("button", name="Search").click()
    expect(table.get_by_role("row")).to_have_count(4)

    # Sorting is done by the server: ascending accuracy puts trial-0 first.
    page.get_by_role("columnheader", name="metrics.accuracy").click()
    expect(table.get_by_role("row").nth(1)).to_contain_text("trial-0")
    page.get_by_role("columnheader", name="metrics.accuracy").click()
    expect(table.get_by_role("row").nth(1)).to_contain_text("trial-2")

    page.get_by_role("button", name=re.compile(r"^Columns")).click()
    page.get_by_label("Search columns").fill("team")
    page.get_by_role("dialog", name="Choose columns").get_by_text("tags.team").click()
    page.get_by_role("button", name="Done").click()
    expect(page.get_by_role("columnheader", name="tags.team")).to_be_visible()

    page.get_by_label("Select trial-0").check()
    page.get_by_label("Select trial-2").check()
    page.get_by_role("button", name="Compare (2)").click()
    expect(page.get_by_role("heading", name="Compare 2 runs")).to_be_visible()
    differing = page.get_by_role("row").filter(has_text="lr")
    expect(differing.first).to_contain_text("≠")
    expect(page.get_by_role("img", name="Parallel coordinates")).to_be_visible()


def test_run_page_shows_params_charts_and_artifact_previews(page: Page, tracking: MlflowClient) -> None:
    experiment = seed_experiment(tracking, runs=1, points=3000)
    run_id = experiment.run_ids[0]
    page.goto(f"/#/experiments/{experiment.experiment_id}/runs/{run_id}")
    expect(page.get_by_role("heading", name="trial-0")).to_be_visible()
    expect(page.get_by_text("optimizer", exact=True)).to_be_visible()
    chart = page.get_by_test_id("chart-loss")
    # 3,000 points on a chart a few hundred pixels wide: reduced on the server, and the figure shown.
    expect(chart.locator(".points-label")).to_have_text(re.compile(r"^[\d,]+ of 3,000 points$"))
    expect(chart.locator("canvas")).to_be_visible()
    # Typing elsewhere on the page re-renders it; the chart is not drawn again for that.
    canvas = chart.locator("canvas").element_handle()
    page.get_by_label("Tag key").fill("typing")
    page.get_by_label("Tag key").fill("")
    assert canvas.evaluate("element => element.isConnected"), "the chart was redrawn on an unrelated change"

    page.get_by_role("button", name=re.compile("^config.json")).click()
    expect(page.locator(".preview-text")).to_contain_text('"dropout": 0.1')
    page.get_by_role("button", name=re.compile("^metrics.csv")).click()
    expect(page.get_by_role("cell", name="0.25")).to_be_visible()
    expect(page.get_by_role("link", name="Download")).to_have_attribute("href", re.compile("metrics.csv$"))

    page.get_by_label("Tag key").fill("reviewed")
    page.get_by_label("Tag value").fill("yes")
    page.get_by_role("button", name="Add tag").click()
    expect(page.get_by_role("row").filter(has_text="reviewed")).to_contain_text("yes")
    assert tracking.get_run(run_id).data.tags["reviewed"] == "yes"


def test_model_version_deep_link_shows_lineage(page: Page, tracking: MlflowClient) -> None:
    experiment = seed_experiment(tracking, runs=1, points=10)
    name = unique("ui-model")
    tracking.create_registered_model(name)
    run_id = experiment.run_ids[0]
    tracking.log_text(run_id, "flavors: {}\n", "model/MLmodel")
    tracking.create_model_version(name, f"runs:/{run_id}/model", run_id=run_id)
    tracking.set_registered_model_alias(name, "champion", "1")

    page.goto("/#/models")
    page.get_by_label("Search models").fill(name)
    page.get_by_role("link", name=name).click()
    expect(page.get_by_role("cell", name="@champion")).to_be_visible()

    page.goto(f"/#/models/{name}/versions/1")  # the link the mlflow client prints
    expect(page.get_by_role("heading", name=f"{name} version 1")).to_be_visible()
    page.get_by_role("link", name="trial-0").click()
    expect(page.get_by_role("heading", name="trial-0")).to_be_visible()


def test_runs_table_scrolls_through_every_page_and_groups_by_a_param(page: Page, tracking: MlflowClient) -> None:
    experiment_id = tracking.create_experiment(unique("many-runs"))
    for i in range(230):
        run = tracking.create_run(experiment_id, run_name=f"sweep-{i:03d}")
        tracking.log_param(run.info.run_id, "seed", str(i % 3))
    page.goto(f"/#/experiments/{experiment_id}")
    table = page.get_by_role("table", name="Runs")
    expect(table.get_by_role("row").nth(1)).to_contain_text("sweep-229")  # newest first
    expect(page.get_by_text("100 runs (more on scroll)")).to_be_visible()
    # Only the rows in view are in the page; scrolling to the end fetches the rest, page by page.
    assert table.get_by_role("row").count() < 100
    for _ in range(20):
        table.evaluate("element => { element.scrollTop = element.scrollHeight; }")
        if page.get_by_text("230 runs", exact=True).is_visible():
            break
        page.wait_for_timeout(100)
    expect(page.get_by_text("230 runs", exact=True)).to_be_visible()
    table.evaluate("element => { element.scrollTop = element.scrollHeight; }")
    expect(table.get_by_role("row").filter(has_text="sweep-000")).to_have_count(1)
    # The first rows' checkboxes still work after the scroll back up.
    table.evaluate("element => { element.scrollTop = 0; }")
    page.get_by_label("Select sweep-229").check()
    expect(page.get_by_role("button", name="Compare (1)")).to_be_enabled()

    page.get_by_label("Group by").select_option("params.seed")
    # Groups come in the order of their first run (the newest, sweep-229, has seed 1).
    expect(table.get_by_role("row").nth(1)).to_have_text("params.seed = 1 (77)")
    expect(page.get_by_label("Select sweep-229")).to_be_checked()
