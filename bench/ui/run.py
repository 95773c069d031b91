"""The web UI benchmark: runyard's UI and MLflow's, side by side on the same seeded data.

Run by hand (it takes minutes and is not part of the test command):

    .venv/bin/python bench/ui/run.py [--quick] [--no-mlflow] [--timeout 60] [--set NAME=N ...]

Both servers start on fresh SQLite databases; every data set (see ``seed.py``) is loaded into both;
then Debian's chromium, driven by Playwright, opens each page as a person would and the time from
the action (a navigation, a click, a keystroke, a drag) to the answer on screen is measured. A page
that does not answer within the timeout is recorded as "> timeout". Results go to
``bench/out/ui.json`` and ``bench/out/ui.md``.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import gzip
import io
import json
import os
import re
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Browser, Page, sync_playwright
from playwright.sync_api import TimeoutError as PlaywrightTimeout

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # bench/ on the path: servers.py
sys.path.insert(0, str(HERE))

from seed import Loader, Seeded, Sizes, seed  # noqa: E402

import servers  # noqa: E402

REPO = HERE.parent.parent
OUT = REPO / "bench" / "out"
CHROMIUM = "/usr/bin/chromium"
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ML = "workflowType=machine_learning"
VIEWPORT = {"width": 1400, "height": 900}
DATA_SETS = ("runs", "keys", "long", "chart", "heavy")
QUICK = Sizes(runs=1000, keys=1200, points=100_000, chart_runs=200, compare=20, heavy_metrics=20, heavy_steps=10_000)


@dataclasses.dataclass
class Figure:
    name: str
    runyard: float | str | None = None
    mlflow: float | str | None = None
    unit: str = "ms"
    target: str = ""
    note: str = ""


class Timeout(Exception):
    pass


def timed(action: Callable[[], None], wait: Callable[[], None]) -> float:
    """Milliseconds from the start of ``action`` until ``wait`` returns."""
    start = time.perf_counter()
    action()
    try:
        wait()
    except PlaywrightTimeout as error:
        raise Timeout(str(error).splitlines()[0]) from error
    return (time.perf_counter() - start) * 1000


SHOTS = OUT / "ui-shots"


def attempt(call: Callable[[], float], timeout_s: float, page: Page | None = None, name: str = "") -> float | str:
    """The figure, or what stopped it; a screenshot of the page is kept for anything but a figure."""
    try:
        return call()
    except Timeout:
        result = f"> {timeout_s:.0f} s (timed out)"
    except Exception as error:
        result = f"failed: {type(error).__name__}: {(str(error).splitlines() or [''])[0][:120]}"
    if page is not None and name:
        SHOTS.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(Exception):
            page.screenshot(path=str(SHOTS / f"{name}.png"))
    return result


def only_rows(page: Page, names: list[str], timeout_ms: float) -> None:
    """The runs table shows exactly these runs (in any order)."""
    page.wait_for_function(
        """(names) => {
             const rows = [...document.querySelectorAll('[role=table][aria-label=Runs] [role=row]')].slice(1);
             return rows.length === names.length
               && rows.every((r) => names.some((n) => r.textContent.includes(n))); }""",
        arg=names,
        timeout=timeout_ms,
    )


def home(page: Page) -> None:
    """Leave for the experiments list, so the next page starts afresh."""
    page.goto("/#/experiments")
    page.get_by_role("heading", name="Experiments").wait_for()


def first_row_has(page: Page, names: list[str], timeout_ms: float) -> None:
    page.wait_for_function(
        """(names) => { const rows = document.querySelectorAll('[role=table][aria-label=Runs] [role=row]');
             const first = rows[1]?.textContent ?? ''; return names.some((n) => first.includes(n)); }""",
        arg=names,
        timeout=timeout_ms,
    )


SCROLL = """async () => {
  const el = document.querySelector('.vtable');
  const deltas = [];
  let last = performance.now();
  for (let i = 0; i < 120; i++) {
    el.scrollTop += 400;
    await new Promise((r) => requestAnimationFrame(r));
    const now = performance.now(); deltas.push(now - last); last = now;
  }
  deltas.sort((a, b) => a - b);
  const rows = el.querySelectorAll('[role=row]').length;
  return [deltas[Math.floor(deltas.length * 0.95)], deltas[deltas.length - 1], rows];
}"""


# Where a click's time goes: the page notes when the click arrived, and afterwards lists each request
# made since (path, start and end in ms after the click), from the resource timing entries.
CLICK_CLOCK = """() => { window.__clickedAt = null; window.__drawnAt = null;
  document.addEventListener('click', () => { window.__clickedAt = performance.now(); }, { capture: true, once: true });
  const observer = new MutationObserver(() => {
    const label = document.querySelector('.points-label');
    if (label && / of /.test(label.textContent) && label.closest('.chart').querySelector('canvas')) {
      window.__drawnAt = performance.now(); observer.disconnect(); } });
  observer.observe(document.body, { childList: true, subtree: true, characterData: true }); }"""
REQUESTS_SINCE_CLICK = """() => { const at = window.__clickedAt ?? 0;
  const requests = performance.getEntriesByType('resource').filter((e) => e.startTime >= at)
    .map((e) => [new URL(e.name).pathname, Math.round(e.startTime - at), Math.round(e.responseEnd - at)]);
  const drawn = Math.round(window.__drawnAt - at);
  return [...requests, ['drawn (in the page)', drawn, drawn]]; }"""


def transferred(page: Page, fragment: str) -> int:
    """Body bytes of the page's requests whose URL contains ``fragment`` (the resource timing entries)."""
    return int(
        page.evaluate(
            """(fragment) => performance.getEntriesByType('resource')
                 .filter((e) => e.name.includes(fragment)).reduce((sum, e) => sum + e.decodedBodySize, 0)""",
            fragment,
        )
    )


def label_text(page: Page, index: int = 0) -> str:
    return page.locator(".points-label").nth(index).inner_text()


def wait_label(page: Page, pattern: str, timeout_ms: float, index: int = 0) -> None:
    page.wait_for_function(
        """([pattern, index]) => { const el = document.querySelectorAll('.points-label')[index];
             return !!el && new RegExp(pattern).test(el.textContent)
               && !!el.closest('.chart').querySelector('canvas'); }""",
        arg=[pattern, index],
        timeout=timeout_ms,
    )


def runyard_figures(
    browser: Browser, base: str, ids: dict[str, str], seeded: Seeded, sizes: Sizes, timeout_s: float
) -> dict[str, Any]:
    t = timeout_s * 1000
    out: dict[str, Any] = {}
    context = browser.new_context(base_url=base, viewport=VIEWPORT)
    page = context.new_page()
    page.set_default_timeout(t)
    page.goto("/#/experiments")  # the bundle cached, as for a returning user
    page.get_by_role("heading", name="Experiments").wait_for()
    newest = f"run-{sizes.runs - 1:05d}"

    def first_rows() -> float:
        home(page)
        return timed(lambda: page.goto(f"/#/experiments/{ids['runs']}"), lambda: first_row_has(page, [newest], t))

    out["runs_first_rows"] = attempt(first_rows, timeout_s, page, "runyard-runs_first_rows")

    def sort() -> float:
        # Header click: the server sorts all runs by loss (descending on the first click).
        header = page.get_by_role("columnheader", name=re.compile(r"^metrics\.loss"))
        names = [seeded.lowest_loss_run, _highest_loss_name(sizes)]
        return timed(lambda: header.click(), lambda: first_row_has(page, names, t))

    out["runs_sort"] = attempt(sort, timeout_s, page, "runyard-runs_sort")

    def filter_() -> float:
        box = page.get_by_label("Filter runs")
        box.fill(low_loss_filter(sizes))
        return timed(
            lambda: box.press("Enter"),
            lambda: only_rows(page, _low_loss_names(sizes), t),
        )

    out["runs_filter"] = attempt(filter_, timeout_s, page, "runyard-runs_filter")

    def scroll() -> float:
        home(page)
        page.goto(f"/#/experiments/{ids['runs']}")
        first_row_has(page, [newest], t)
        p95, worst, rows = page.evaluate(SCROLL)
        out["runs_scroll_frame_max_ms"] = round(worst, 1)
        out["runs_scroll_rows_in_dom"] = rows
        return float(p95)

    out["runs_scroll_frame_p95"] = attempt(scroll, timeout_s, page, "runyard-runs_scroll_frame_p95")

    def keys_table() -> float:
        home(page)
        return timed(
            lambda: page.goto(f"/#/experiments/{ids['keys']}"),
            lambda: first_row_has(page, [f"wide-{sizes.key_runs - 1}"], t),
        )

    out["keys_table"] = attempt(keys_table, timeout_s, page, "runyard-keys_table")

    def column_search() -> float:
        page.get_by_role("button", name=re.compile(r"^Columns")).click()
        box = page.get_by_label("Search columns")
        key = f"p{sizes.keys // 4:05d}"
        # Checked every animation frame (a locator's wait polls at 100 ms steps).
        wanted = f"1 of {sizes.keys} keys"
        return timed(
            lambda: box.fill(key),
            lambda: page.wait_for_function(
                "(wanted) => document.querySelector('.chooser-panel')?.textContent.includes(wanted)",
                arg=wanted,
                timeout=t,
            ),
        )

    out["keys_column_search"] = attempt(column_search, timeout_s, page, "runyard-keys_column_search")

    def long_click() -> float:
        home(page)
        page.goto(f"/#/experiments/{ids['long']}")
        link = page.get_by_role("link", name="long-series")
        link.wait_for()
        page.evaluate(CLICK_CLOCK)
        start = time.perf_counter()
        with page.expect_response(lambda r: "/api/v1/metrics/downsample" in r.url, timeout=t) as answer:
            link.click()
        try:
            wait_label(page, f"of {sizes.points:,} points", t)
        except PlaywrightTimeout as error:
            raise Timeout(str(error)) from error
        elapsed = (time.perf_counter() - start) * 1000
        out["long_click_requests"] = page.evaluate(REQUESTS_SINCE_CLICK)
        response = answer.value
        body = response.body()
        out["long_bytes"] = len(body)
        out["long_points"] = sum(s["returned"] for s in json.loads(body)["series"])
        width = re.search(r"[?&]width=(\d+)", response.url)
        out["long_width"] = int(width.group(1)) if width else None
        return elapsed

    out["long_click_to_drawn"] = attempt(long_click, timeout_s, page, "runyard-long_click_to_drawn")

    def zoom() -> float:
        area = page.locator(".plot-area").first.locator(".u-over")
        box = area.bounding_box()
        assert box is not None
        before = label_text(page)
        y = box["y"] + box["height"] / 2
        page.mouse.move(box["x"] + box["width"] * 0.40, y)
        page.mouse.down()
        page.mouse.move(box["x"] + box["width"] * 0.45, y, steps=4)
        start = time.perf_counter()
        with page.expect_response(lambda r: "/api/v1/metrics/downsample" in r.url, timeout=t) as answer:
            page.mouse.up()
        try:
            page.wait_for_function(
                """(before) => {
                     const el = document.querySelector('.points-label'); return el && el.textContent !== before; }""",
                arg=before,
                timeout=t,
            )
        except PlaywrightTimeout as error:
            raise Timeout(str(error)) from error
        elapsed = (time.perf_counter() - start) * 1000
        out["long_zoom_points"] = sum(s["returned"] for s in json.loads(answer.value.body())["series"])
        return elapsed

    out["long_zoom"] = attempt(zoom, timeout_s, page, "runyard-long_zoom")

    def compare(count: int) -> Callable[[], float]:
        def run() -> float:
            runs = ",".join(seeded.chart_runs[:count])
            home(page)

            def drawn() -> None:
                page.get_by_role("heading", name=f"Compare {count} runs").wait_for(timeout=t)
                page.wait_for_function(
                    """() => { const el = document.querySelector('.points-label');
                         return (el && /of/.test(el.textContent) && el.closest('.chart').querySelector('canvas'))
                           || document.querySelector('.chart [role=alert]'); }""",
                    timeout=t,
                )
                alert = page.locator(".chart [role=alert]")
                if alert.count():
                    raise RuntimeError(alert.first.inner_text())

            # As the runs table's Compare button links it: the runs' experiment named.
            url = f"/#/compare?runs={runs}&experiments={ids['chart']}"
            return timed(lambda: page.goto(url), drawn)

        return run

    out["compare_100"] = attempt(compare(sizes.compare), timeout_s, page, "runyard-compare_100")
    out["chart_1000_runs"] = attempt(compare(sizes.chart_runs), timeout_s, page, "runyard-chart_1000_runs")

    def heavy(all_charts: bool) -> Callable[[], float]:
        def run() -> float:
            home(page)

            def opened() -> None:
                page.get_by_role("heading", name=re.compile("heavy-run")).wait_for(timeout=t)
                page.get_by_role("region", name="Metrics").get_by_text("metric_000", exact=True).wait_for(timeout=t)
                if all_charts:
                    shown = min(12, sizes.heavy_metrics)
                    for index in range(shown):
                        wait_label(page, "of", t, index)

            return timed(lambda: page.goto(f"/#/experiments/{ids['heavy']}/runs/{seeded.heavy_run}"), opened)

        return run

    out["heavy_open"] = attempt(heavy(False), timeout_s, page, "runyard-heavy_open")
    out["heavy_charts_drawn"] = attempt(heavy(True), timeout_s, page, "runyard-heavy_charts_drawn")
    context.close()
    return out


def _highest_loss_name(sizes: Sizes) -> str:
    loss = [((i * 7919) % sizes.runs + 1) / sizes.runs for i in range(sizes.runs)]
    return f"run-{max(range(sizes.runs), key=lambda i: loss[i]):05d}"


LOW_LOSS_RUNS = 4


def low_loss_filter(sizes: Sizes) -> str:
    """A filter matching exactly ``LOW_LOSS_RUNS`` runs of the runs table."""
    return f"metrics.loss <= {(LOW_LOSS_RUNS + 0.5) / sizes.runs}"


def _low_loss_names(sizes: Sizes) -> list[str]:
    loss = [((i * 7919) % sizes.runs + 1) / sizes.runs for i in range(sizes.runs)]
    return [f"run-{i:05d}" for i in range(sizes.runs) if loss[i] <= (LOW_LOSS_RUNS + 0.5) / sizes.runs]


def mlflow_figures(
    browser: Browser, base: str, ids: dict[str, str], seeded: Seeded, sizes: Sizes, timeout_s: float
) -> dict[str, Any]:
    t = timeout_s * 1000
    out: dict[str, Any] = {}
    context = browser.new_context(base_url=base, viewport=VIEWPORT)
    page = context.new_page()
    page.set_default_timeout(t)
    page.goto("/#/experiments")
    # MLflow 3 opens in its GenAI mode; its runs table is under "Model training" (remembered).
    with contextlib.suppress(PlaywrightTimeout):
        page.get_by_text("Model training", exact=True).first.click(timeout=t)
    newest = f"run-{sizes.runs - 1:05d}"

    def first_rows() -> float:
        page.goto("/")
        return timed(
            lambda: page.goto(f"/#/experiments/{ids['runs']}/runs?{ML}"),
            lambda: page.get_by_text(newest, exact=True).first.wait_for(timeout=t),
        )

    out["runs_first_rows"] = attempt(first_rows, timeout_s, page, "mlflow-runs_first_rows")

    def filter_() -> float:
        box = page.locator("input[placeholder*='metrics']").first
        box.fill(low_loss_filter(sizes))
        target = seeded.lowest_loss_run
        return timed(lambda: box.press("Enter"), lambda: _only(page, target, newest, t))

    out["runs_filter"] = attempt(filter_, timeout_s, page, "mlflow-runs_filter")

    def keys_table() -> float:
        page.goto("/")
        return timed(
            lambda: page.goto(f"/#/experiments/{ids['keys']}/runs?{ML}"),
            lambda: page.get_by_text(f"wide-{sizes.key_runs - 1}", exact=True).first.wait_for(timeout=t),
        )

    out["keys_table"] = attempt(keys_table, timeout_s, page, "mlflow-keys_table")

    def long_chart() -> float:
        url = (
            f'/#/metric?runs=["{seeded.long_run}"]&metric=%22loss%22&experiments=["{ids["long"]}"]'
            "&plot_metric_keys=%5B%22loss%22%5D&plot_layout={}&x_axis=step&y_axis_scale=linear"
            "&line_smoothness=1&show_point=false&deselected_curves=[]&last_linear_y_axis_range=[]"
        )
        page.evaluate("performance.clearResourceTimings()")
        return timed(
            lambda: page.goto(url),
            lambda: page.locator(
                ".js-plotly-plot .scatterlayer .trace path, .js-plotly-plot .scatterlayer .trace"
            ).first.wait_for(timeout=t),
        )

    out["long_click_to_drawn"] = attempt(long_chart, timeout_s, page, "mlflow-long_click_to_drawn")
    with contextlib.suppress(Exception):
        out["long_bytes"] = transferred(page, "metrics/get-history")

    def compare(count: int) -> Callable[[], float]:
        def run() -> float:
            runs = json.dumps(seeded.chart_runs[:count]).replace(" ", "")
            url = f'/#/compare-runs?runs={runs}&experiments=["{ids["chart"]}"]'
            page.goto("/")
            return timed(
                lambda: page.goto(url),
                lambda: page.get_by_text(f"sweep-{count - 1:04d}").first.wait_for(timeout=t),
            )

        return run

    out["compare_100"] = attempt(compare(sizes.compare), timeout_s, page, "mlflow-compare_100")

    def chart_many() -> float:
        url = f"/#/experiments/{ids['chart']}/runs?{ML}&compareRunsMode=CHART"
        return timed(
            lambda: page.goto(url),
            lambda: page.locator(".js-plotly-plot .scatterlayer .trace, canvas").first.wait_for(timeout=t),
        )

    out["chart_1000_runs"] = attempt(chart_many, timeout_s, page, "mlflow-chart_1000_runs")

    def heavy() -> float:
        page.goto("/")
        return timed(
            lambda: page.goto(f"/#/experiments/{ids['heavy']}/runs/{seeded.heavy_run}"),
            lambda: page.get_by_text("metric_000", exact=True).first.wait_for(timeout=t),
        )

    out["heavy_open"] = attempt(heavy, timeout_s, page, "mlflow-heavy_open")
    context.close()
    return out


def _only(page: Page, wanted: str, gone: str, timeout_ms: float) -> None:
    page.wait_for_function(
        """([wanted, gone]) => document.body.innerText.includes(wanted) && !document.body.innerText.includes(gone)""",
        arg=[wanted, gone],
        timeout=timeout_ms,
    )


def initial_js_gzip(static: Path) -> int:
    """Gzipped bytes of the JavaScript index.html loads before anything else (scripts and module preloads)."""
    html = (static / "index.html").read_text()
    sources = re.findall(r'<script[^>]+src="([^"]+\.js)"', html)
    sources += re.findall(r'<link[^>]+rel="modulepreload"[^>]+href="([^"]+)"', html)
    total = 0
    for source in dict.fromkeys(sources):
        relative = source.removeprefix("./").lstrip("/").removeprefix("static-files/")
        path = static / relative
        if path.exists():
            total += len(gzip.compress(path.read_bytes(), 9))
    return total


def zipped_size(folder: Path) -> int:
    """Bytes the folder takes inside a wheel (a zip with deflate, as wheels are built)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(folder))
    return buffer.tell()


def create_experiments(base: str) -> dict[str, str]:
    ids = {}
    with httpx.Client(base_url=base, timeout=60) as client:
        for name in DATA_SETS:
            response = client.post("/api/2.0/mlflow/experiments/create", json={"name": f"ui-bench-{name}"})
            response.raise_for_status()
            ids[name] = str(response.json()["experiment_id"])
    return ids


def database_file(url: str) -> Path:
    return Path(url.removeprefix("sqlite:///"))


def parse_sizes(quick: bool, overrides: list[str]) -> Sizes:
    sizes = dataclasses.replace(QUICK) if quick else Sizes()
    for item in overrides:
        name, _, value = item.partition("=")
        if not hasattr(sizes, name):
            raise SystemExit(f"unknown size {name}; one of {', '.join(f.name for f in dataclasses.fields(Sizes))}")
        setattr(sizes, name, int(value))
    return sizes


@contextlib.contextmanager
def started(kind: str, scratch: Path) -> Iterator[tuple[servers.Server, Path]]:
    folder = scratch / kind
    folder.mkdir()
    with servers.fresh_database("sqlite", folder) as url:
        server = (
            servers.start_runyard(url, folder) if kind == "runyard" else servers.start_mlflow(url, folder, workers=1)
        )
        try:
            yield server, database_file(url)
        finally:
            server.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small data sets (a smoke run of the suite)")
    parser.add_argument("--skip", action="append", default=[], choices=["runyard", "mlflow"], help="leave one UI out")
    parser.add_argument(
        "--timeout", type=float, default=60.0, help="seconds a page may take before it counts as timed out"
    )
    parser.add_argument("--set", action="append", default=[], metavar="NAME=N", help="override one data-set size")
    args = parser.parse_args()
    sizes = parse_sizes(args.quick, args.set)
    # MLflow's server (and its UI) from the project's own environment.
    servers.MLFLOW_BIN = REPO / ".venv" / "bin" / "mlflow"
    results: dict[str, Any] = {
        "sizes": dataclasses.asdict(sizes),
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }
    results["load_at_start"] = os.getloadavg()
    static = REPO / "src" / "runyard" / "ui" / "static"
    mlflow_build = REPO / ".venv" / "lib" / "python3.11" / "site-packages" / "mlflow" / "server" / "js" / "build"
    results["bundle"] = {
        "runyard_initial_js_gzip": initial_js_gzip(static),
        "runyard_ui_in_wheel": zipped_size(static),
        "mlflow_initial_js_gzip": initial_js_gzip(mlflow_build) if mlflow_build.exists() else None,
        "mlflow_ui_in_wheel": zipped_size(mlflow_build) if mlflow_build.exists() else None,
    }
    kinds = [k for k in ("runyard", "mlflow") if k not in args.skip]
    with tempfile.TemporaryDirectory(prefix="ui-bench-") as root, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        for kind in kinds:
            with started(kind, Path(root)) as (server, database):
                ids = create_experiments(server.base_url)
                start = time.perf_counter()
                loader = Loader(database, kind)
                try:
                    seeded = seed(loader, ids, sizes)
                finally:
                    loader.close()
                results[f"{kind}_seed_s"] = round(time.perf_counter() - start, 1)
                print(f"{kind}: seeded in {results[f'{kind}_seed_s']} s", flush=True)
                measure = runyard_figures if kind == "runyard" else mlflow_figures
                results[kind] = measure(browser, server.base_url, ids, seeded, sizes, args.timeout)
                print(json.dumps(results[kind], indent=1), flush=True)
        browser.close()
    OUT.mkdir(exist_ok=True)
    (OUT / "ui.json").write_text(json.dumps(results, indent=1))
    (OUT / "ui.md").write_text(report(results))
    print(report(results))
    return 0


def _show(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:,.0f}" if value >= 100 else f"{value:,.1f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def report(results: dict[str, Any]) -> str:
    sizes = results["sizes"]
    ry: dict[str, Any] = results.get("runyard", {})
    ml: dict[str, Any] = results.get("mlflow", {})
    bundle = results["bundle"]
    rows = [
        (f"{sizes['runs']:,}-run table: first rows, ms", "runs_first_rows", "≤ 1,000"),
        ("↳ sort by a metric (header click), ms", "runs_sort", "≤ 300"),
        ("↳ filter (search grammar, Enter), ms", "runs_filter", "≤ 300"),
        ("↳ scrolling: 95th-percentile frame, ms", "runs_scroll_frame_p95", "smooth (≤ 50)"),
        ("↳ scrolling: slowest frame, ms", "runs_scroll_frame_max_ms", ""),
        (f"{sizes['keys']:,} metric/param keys: table, ms", "keys_table", "≤ 1,500"),
        ("↳ column search (keystroke to list), ms", "keys_column_search", "≤ 100"),
        (f"one {sizes['points']:,}-point series: click to drawn, ms", "long_click_to_drawn", "≤ 300"),
        ("↳ points transferred", "long_points", "≤ 4 × width"),
        ("↳ chart width asked for, px", "long_width", ""),
        ("↳ bytes transferred", "long_bytes", ""),
        ("↳ zoom (drag) re-query to drawn, ms", "long_zoom", "≤ 200"),
        (f"{sizes['chart_runs']:,} runs on one chart, ms", "chart_1000_runs", "≤ 2,000"),
        (f"comparing {sizes['compare']} runs (page and chart), ms", "compare_100", "≤ 1,000"),
        (
            f"run with {sizes['heavy_metrics']} metrics × {sizes['heavy_steps']:,} steps: opens, ms",
            "heavy_open",
            "≤ 1,000",
        ),
        ("↳ its first 12 charts drawn, ms", "heavy_charts_drawn", ""),
    ]
    lines = [
        "| measure | runyard | MLflow | target |",
        "|---|--:|--:|---|",
    ]
    for label, key, target in rows:
        lines.append(f"| {label} | {_show(ry.get(key))} | {_show(ml.get(key))} | {target} |")
    lines.append(
        f"| initial JavaScript, gzipped, KB | {bundle['runyard_initial_js_gzip'] / 1024:,.0f} "
        f"| {(bundle['mlflow_initial_js_gzip'] or 0) / 1024:,.0f} | ≤ 250 |"
    )
    lines.append(
        f"| UI inside the wheel, MB | {bundle['runyard_ui_in_wheel'] / 2**20:,.2f} "
        f"| {(bundle['mlflow_ui_in_wheel'] or 0) / 2**20:,.2f} | ≤ 3 |"
    )
    head = (
        f"- when: {results['when']}; load average at start {', '.join(f'{x:.1f}' for x in results['load_at_start'])}\n"
        "- seeding (straight into each SQLite database): "
        f"runyard {results.get('runyard_seed_s', '—')} s, MLflow {results.get('mlflow_seed_s', '—')} s\n\n"
    )
    return head + "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
