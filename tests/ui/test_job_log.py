"""A job's log of 1,000,000 lines on the job page: it opens at its end, scrolls back and stays responsive.

The lines are written straight through the log service (a million API calls' worth in one transaction);
the page is used as a person would: read the last line, search, scroll up for earlier lines.
"""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Page, expect

from runyard.client import Client
from tests.conftest import unique
from tests.support.compute import FakeAgent, write_recipe
from tests.support.servers import LiveServer
from tests.ui.seed import seed_job_log

LINES = 1_000_000


def test_a_million_line_log_opens_at_its_end_and_scrolls_back(
    page: Page, ui_server: LiveServer, tmp_path: Path
) -> None:
    client = Client(ui_server.url)
    recipe, queue, pool = unique("log-job"), unique("q"), unique("pool")
    client.push_recipe(write_recipe(tmp_path / "recipe", recipe))
    client.put_pool(pool, gpus_per_replica=0, queues=[queue])
    job = client.submit_job(recipe, queue=queue)
    agent = FakeAgent(client, pool, gpus=[]).register()
    assert agent.claim() is not None
    client.report_status(job["job_id"], 1, "running")
    seed_job_log(ui_server.database_url, job["job_id"], LINES)

    page.goto(f"/#/jobs/{job['job_id']}")
    log = page.get_by_test_id("log-lines")
    expect(log.get_by_text("line 0999999 ", exact=False)).to_be_visible()
    expect(page.get_by_test_id("log-count")).to_contain_text("5,000 lines (the end of the log")

    # Lines still streaming in are followed.
    client.append_logs(job["job_id"], 1, [{"stream": "stdout", "line": "training finished"}])
    expect(log.get_by_text("training finished")).to_be_visible()

    page.get_by_label("Search log").fill("step=99999")
    expect(page.get_by_test_id("log-count")).to_contain_text("matches in 5,001 lines")
    page.get_by_label("Search log").fill("")

    # Scrolling to the top of what is loaded fetches the 10,000 lines before it; the line that was at
    # the top stays on screen.
    log.evaluate("element => { element.scrollTop = 0; }")
    expect(page.get_by_test_id("log-count")).to_contain_text("15,001 lines")
    expect(log.get_by_text("line 0995000 ", exact=False)).to_be_visible()
    log.evaluate("element => { element.scrollTop = 0; }")
    expect(page.get_by_test_id("log-count")).to_contain_text("25,001 lines")
    expect(log.get_by_text("line 0985000 ", exact=False)).to_be_visible()
    agent.finish(job["job_id"])
