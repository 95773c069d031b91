"""Turn the raw results into ``RESULTS.md``: one table per database with ratio, target and verdict."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import compute_report

SERVERS = ("runyard", "mlflow")


@dataclass(frozen=True)
class Target:
    """A goal for runyard's figure: against MLflow's (ratio), an absolute bound, or the file-copy speed."""

    kind: str  # "ratio_min" | "ratio_max" | "abs_max" | "copy_min"
    bound: float
    text: str

    def verdict(self, runyard: float, mlflow: float | None, copy: float | None) -> str:
        if self.kind in ("ratio_min", "ratio_max"):
            if mlflow is None or mlflow == 0:
                return "n/a"
            ratio = runyard / mlflow
            if self.kind == "ratio_min":
                return "yes" if ratio >= self.bound else f"**no**: {ratio:.2f}×, {self.bound / ratio:.1f}× short"
            return "yes" if ratio <= self.bound else f"**no**: {ratio:.3f}, {ratio / self.bound:.1f}× too slow"
        if self.kind == "abs_max":
            return "yes" if runyard <= self.bound else f"**no**: {runyard - self.bound:,.0f} over"
        if self.kind == "copy_min":
            if not copy:
                return "n/a"
            share = runyard / copy
            return "yes" if share >= self.bound else f"**no**: {share:.0%} of copy speed"
        raise ValueError(self.kind)


@dataclass(frozen=True)
class Row:
    key: str
    label: str
    digits: int  # decimals shown
    target: Target | None = None
    target_databases: tuple[str, ...] = ("sqlite", "postgresql")  # where the target applies


ROWS = [
    Row("runs_created_per_s", "runs created /s (8 clients)", 0),
    Row(
        "batch_points_per_s",
        "metric points ingested /s (log-batch, 1000/request, 8 clients)",
        0,
        Target("ratio_min", 10, "≥ 10× MLflow"),
    ),
    Row("batch_p95_ms", "↳ log-batch request p95, ms", 0),
    Row("log_metric_per_s", "single log-metric requests /s (8 clients)", 0),
    Row("log_metric_p95_ms", "↳ log-metric request p95, ms", 1),
    Row("search_p50_ms", "search-runs p50, ms (metric + param filter, order_by)", 1),
    Row("search_p95_ms", "search-runs p95, ms", 1, Target("ratio_max", 0.1, "≤ 1/10 of MLflow")),
    Row("search_returned", "↳ runs returned per search page", 0),
    Row("history_s", "get-history of one metric, s", 3, Target("ratio_max", 1 / 3, "≥ 3× faster")),
    Row("upload_mb_s", "artifact upload, MB/s", 0, Target("copy_min", 0.8, "within 20 % of file copy")),
    Row("download_mb_s", "artifact download, MB/s", 0, Target("copy_min", 0.8, "within 20 % of file copy")),
    Row("curl_download_mb_s", "↳ artifact download with `curl` as the client, MB/s", 0),
    Row("copy_mb_s", "↳ plain local file copy of the same file, MB/s (measured just before)", 0),
    Row("loopback_mb_s", "↳ same file over plain loopback TCP (sendfile → recv, no HTTP), MB/s: the network bound", 0),
    Row(
        "registry_p50_ms",
        "registered-models search p50, ms (tag filter)",
        1,
    ),
    Row(
        "registry_p95_ms",
        "registered-models search p95, ms",
        1,
        Target("abs_max", 100, "< 100 ms"),
        target_databases=("postgresql",),
    ),
    Row("otlp_spans_per_s", "OTLP spans ingested /s (/v1/traces, 10-span traces, 8 clients)", 0),
    Row("otlp_p95_ms", "↳ OTLP export request p95, ms", 0),
    Row("trace_search_p50_ms", "search-traces p50, ms (tag + status filter, newest first)", 1),
    Row("trace_search_p95_ms", "search-traces p95, ms", 1),
    Row("trace_search_returned", "↳ traces returned per search page", 0),
    Row(
        "trace_search_load_s",
        "↳ loading the searched traces (untimed: runyard over OTLP, one client; MLflow into its database), s",
        0,
    ),
    # EXTENSION POINT: compute rows (dispatch latency, scheduler throughput) go here.
    Row("idle_rss_mb", "idle server RSS, MB (whole process tree)", 0, Target("abs_max", 150, "≤ 150 MB")),
    Row("peak_rss_mb", "peak server RSS during the workloads, MB", 0),
]


def _cell(result: dict[str, Any], key: str, digits: int) -> tuple[str, float | None]:
    value = result.get("metrics", {}).get(key)
    if value is not None:
        return f"{value:,.{digits}f}", float(value)
    note = result.get("notes", {}).get(key)
    return (note or "—"), None


def _ratio(runyard: float | None, mlflow: float | None) -> str:
    if runyard is None or not mlflow:
        return "—"
    ratio = runyard / mlflow
    return f"{ratio:.3f}" if ratio < 0.1 else f"{ratio:.2f}"


def table(database: str, section: dict[str, Any]) -> list[str]:
    servers = section.get("servers", {})
    runyard, mlflow = servers.get("runyard", {}), servers.get("mlflow", {})
    copy = runyard.get("metrics", {}).get("copy_mb_s")  # the baseline measured next to runyard's transfers
    lines = [
        "| measure | runyard | MLflow | runyard/MLflow | target | met? |",
        "|---|--:|--:|--:|---|---|",
    ]
    for row in ROWS:
        ry_text, ry = _cell(runyard, row.key, row.digits)
        ml_text, ml = _cell(mlflow, row.key, row.digits)
        if ry is None and ml is None and ry_text == "—" and ml_text == "—":
            continue  # not measured in this run at all
        target, met = "", "—"
        if row.target and database in row.target_databases:
            target = row.target.text
            if row.target.kind == "copy_min" and copy:
                target += f" (≥ {copy * row.target.bound:,.0f})"
            met = row.target.verdict(ry, ml, copy) if ry is not None else "n/a"
        lines.append(f"| {row.label} | {ry_text} | {ml_text} | {_ratio(ry, ml)} | {target} | {met} |")
    checks = []
    for extra, what in (("search_first_page", "search-runs"), ("registry_first_page", "registered-models search")):
        pages = [servers.get(name, {}).get("extras", {}).get(extra) for name in SERVERS]
        if all(pages):
            same = "identical" if pages[0] == pages[1] else "**different**"
            checks.append(f"{what} first page {same} on both servers ({len(pages[0])} results)")
    if checks:
        lines += ["", "Answer check: " + "; ".join(checks) + "."]
    return lines


def render(results: dict[str, Any]) -> str:
    meta = results["meta"]
    out = [
        "# runyard vs MLflow — benchmark results",
        "",
        "Generated by `bench/run` (see `docs/benchmarks.md`); every figure below comes from one run of the",
        "suite on one machine: both servers up side by side on fresh databases, each workload run on runyard",
        "and then right away on MLflow.",
        "",
        f"- when: {meta['started']} (total wall time {meta['wall_minutes']:.1f} min)",
        f"- machine: {meta['machine']}",
        f"- runyard {meta['runyard_version']} (commit {meta['commit']}): {meta['runyard_config']}",
        f"- MLflow {meta['mlflow_version']}: {meta['mlflow_config']}",
        f"- sizes: {meta['sizes']}",
        "- client: one kept-alive `httpx.Client` per concurrent caller, TCP_NODELAY, same JSON bodies for both",
        "- ratio = runyard's figure ÷ MLflow's (higher is better for rates, lower for times and memory)",
    ]
    if meta.get("note"):
        out.append(f"- note: {meta['note']}")
    for database, section in results["databases"].items():
        out += ["", f"## {'SQLite' if database == 'sqlite' else 'PostgreSQL'}", "", *table(database, section)]
        errors = [
            f"- {server}: {text}"
            for server in SERVERS
            for text in section.get("servers", {}).get(server, {}).get("errors", [])
        ]
        if errors:
            out += ["", "Errors:", *errors]
    out += [
        "",
        "Why a target is missed (profiles of runyard under each workload) is in "
        "[docs/benchmarks.md](../docs/benchmarks.md#what-bounds-the-missed-targets); "
        "`bench/run --profile` re-records them.",
    ]
    out += compute_report.section(results)
    if results.get("profiles"):
        out += ["", "## Where runyard spends its time (py-spy)", ""]
        for name, lines in results["profiles"].items():
            out += [f"**{name}** — top functions by own samples:", "", "```", *lines, "```", ""]
    return "\n".join(out).rstrip() + "\n"
