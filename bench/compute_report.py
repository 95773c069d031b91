"""The "Compute (PostgreSQL)" section of ``RESULTS.md``: runyard's scheduler figures against the compute targets.

MLflow has no compute API, so this is a runyard-only table (figures from ``workloads/compute.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ComputeRow:
    key: str
    label: str
    digits: int
    target: str = ""
    bound: float | None = None
    higher_is_better: bool = False

    def verdict(self, value: float) -> str:
        if self.bound is None:
            return "—"
        met = value >= self.bound if self.higher_is_better else value <= self.bound
        if met:
            return "yes"
        return f"**no**: {abs(value - self.bound):,.{self.digits}f} {'short' if self.higher_is_better else 'over'}"


def rows(batch: int | None) -> list[ComputeRow]:
    per_claim = f"max_assignments {batch}" if batch else "max_assignments B"
    return [
        ComputeRow(
            "dispatch_p50_ms",
            "dispatch latency p50, ms (submit → `running` acknowledged, idle simulated agent)",
            1,
            "≤ 50 ms",
            50,
        ),
        ComputeRow("dispatch_p95_ms", "dispatch latency p95, ms (same)", 1, "≤ 200 ms", 200),
        ComputeRow("dispatch_server_cpu_ms", "↳ server CPU per submit/claim/running/succeeded cycle, ms", 1),
        ComputeRow("dispatch_db_cpu_ms", "↳ PostgreSQL CPU per cycle, ms", 1),
        ComputeRow(
            "agent_dispatch_p50_ms",
            "dispatch latency p50, ms (submit → server records `running`, real `runyard agent`)",
            1,
            "≤ 50 ms",
            50,
        ),
        ComputeRow("agent_dispatch_p95_ms", "dispatch latency p95, ms (real agent)", 1, "≤ 200 ms", 200),
        ComputeRow("agent_part_p50_ms", "↳ of which the agent (assigned → `running`), p50, ms", 1),
        ComputeRow(
            "placements_per_s",
            f"placements /s (10,000 queued jobs, 50 simulated agents, {per_claim})",
            0,
            "≥ 500 /s",
            500,
            higher_is_better=True,
        ),
        ComputeRow("placement_server_cpu_ms", "↳ server CPU per placement, ms", 2),
        ComputeRow("placement_db_cpu_ms", "↳ PostgreSQL CPU per placement, ms", 2),
        ComputeRow("placements_per_claim", "↳ assignments per claim answer", 1),
        ComputeRow("jobs_submitted_per_s", "jobs submitted /s while queueing (16 clients, untimed setup)", 0),
    ]


def section(results: dict[str, Any]) -> list[str]:
    """Markdown lines for the compute table, or nothing when the compute workloads did not run."""
    runyard = results.get("databases", {}).get("postgresql", {}).get("servers", {}).get("runyard", {})
    metrics, notes = runyard.get("metrics", {}), runyard.get("notes", {})
    batch = metrics.get("compute_batch")
    table = rows(int(batch) if batch else None)
    if not any(row.key in metrics or row.key in notes for row in table):
        return []
    lines = [
        "",
        "## Compute (PostgreSQL)",
        "",
        "runyard only (MLflow has no compute API); see `bench/workloads/compute.py` for how each is measured. "
        "CPU figures are the server process's and the benchmark database's PostgreSQL backends' CPU time: "
        "on a shared machine they vary far less than wall time.",
    ]
    separate = results.get("compute_run")
    if separate:
        lines += [
            "",
            f"From a separate compute-only run: {separate['started']}, commit {separate['commit']}, "
            f"{separate['machine']}.",
        ]
    lines += [
        "",
        "| measure | runyard | target | met? |",
        "|---|--:|---|---|",
    ]
    for row in table:
        value = metrics.get(row.key)
        if value is None:
            shown = notes.get(row.key)
            if shown is None:
                continue
            lines.append(f"| {row.label} | {shown} | {row.target} | {'n/a' if row.target else '—'} |")
            continue
        lines.append(f"| {row.label} | {value:,.{row.digits}f} | {row.target} | {row.verdict(float(value))} |")
    return lines
