"""``runyard job submit/ls/show/logs/events/cancel/retry``: jobs on a server."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from runyard.cli.output import console, fail
from runyard.cli.remote import (
    DEFAULT_SERVER,
    JsonOption,
    ServerOption,
    connect,
    key_values,
    print_json,
    print_table,
    when,
)
from runyard.client import Client

app = typer.Typer(help="Submit and follow jobs (runs of a recipe).", no_args_is_help=True)

STATES = ("queued", "assigned", "running", "succeeded", "failed", "cancelled")


def coerce_parameters(client: Client, name: str, version: str, raw: dict[str, str]) -> dict[str, Any]:
    """``--param k=v`` values are text; give each the type the recipe's schema declares."""
    if not raw:
        return {}
    schema = client.get_recipe_version(name, version or "latest")["manifest"]["parameters"]
    properties = schema.get("properties") or {}
    result: dict[str, Any] = {}
    for key, text in raw.items():
        declared = (properties.get(key) or {}).get("type")
        if declared == "string" or (isinstance(declared, list) and "string" in declared):
            result[key] = text
            continue
        try:
            result[key] = json.loads(text)
        except ValueError:
            result[key] = text  # the server names the field if this is not what the schema wants
    return result


@app.command("submit")
def submit(
    recipe: Annotated[str, typer.Argument(help="NAME or NAME:VERSION (default: latest version).")],
    queue: Annotated[str, typer.Option("--queue", "-q", help="Queue to submit to.")] = "default",
    param: Annotated[list[str] | None, typer.Option("--param", "-p", help="KEY=VALUE parameter (repeatable).")] = None,
    gpus: Annotated[int | None, typer.Option(help="GPUs (default: the recipe's).")] = None,
    priority: Annotated[int, typer.Option(help="Higher runs first within a queue.")] = 0,
    retries: Annotated[int, typer.Option(help="Retries of a failed or lost attempt.")] = 0,
    timeout: Annotated[float | None, typer.Option(help="Wall-clock limit in seconds (default: the recipe's).")] = None,
    env: Annotated[list[str] | None, typer.Option("--env", help="KEY=VALUE for the job's environment.")] = None,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Stream the job's logs until it ends.")] = False,
    server: ServerOption = DEFAULT_SERVER,
    as_json: JsonOption = False,
) -> None:
    """Queue a job of RECIPE."""
    name, _, version = recipe.partition(":")
    with connect(server) as client:
        parameters = coerce_parameters(client, name, version, key_values(param or [], "--param"))
        job = client.submit_job(
            recipe,
            queue=queue,
            parameters=parameters,
            gpus=gpus,
            priority=priority,
            retries=retries,
            timeout_seconds=timeout,
            env=key_values(env or [], "--env"),
        )
        if as_json:
            print_json(job)
        else:
            console.print(f"job {job['job_id']} queued on {job['queue']} ({job['recipe']}:{job['recipe_version']})")
        if follow:
            _follow(client, job["job_id"])


@app.command("ls")
def list_jobs(
    state: Annotated[list[str] | None, typer.Option("--state", help=f"Only these states: {', '.join(STATES)}.")] = None,
    queue: Annotated[str | None, typer.Option(help="Only this queue.")] = None,
    recipe: Annotated[str | None, typer.Option(help="Only this recipe.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many (newest first).")] = 50,
    server: ServerOption = DEFAULT_SERVER,
    as_json: JsonOption = False,
) -> None:
    """List jobs, newest first."""
    with connect(server) as client:
        jobs = client.list_jobs(states=state, queue=queue, recipe=recipe, limit=limit)
    if as_json:
        print_json(jobs)
        return
    rows = [
        (
            j["job_id"],
            f"{j['recipe']}:{j['recipe_version']}",
            j["queue"],
            j["state"] + (" (inactive)" if j["inactive"] else ""),
            j["priority"],
            j["attempt"],
            ",".join(j["gpus"]),
            when(j["submitted_time"]),
            j["reason"] or "",
        )
        for j in jobs
    ]
    print_table(
        ("JOB", "RECIPE", "QUEUE", "STATE", "PRIO", "ATTEMPT", "GPUS", "SUBMITTED", "REASON"), rows, empty="no jobs"
    )


@app.command("show")
def show(
    job_id: Annotated[str, typer.Argument(help="Job id.")],
    server: ServerOption = DEFAULT_SERVER,
    as_json: JsonOption = False,
) -> None:
    """Show a job, its attempts (each with its tracking run) and its history."""
    with connect(server) as client:
        job = client.get_job(job_id)
        attempts = client.get_job_attempts(job_id)
        events = client.job_events(job_id)
    if as_json:
        print_json({"job": job, "attempts": attempts, "events": events})
        return
    console.print(
        f"[bold]job {job['job_id']}[/] {job['recipe']}:{job['recipe_version']} on {job['queue']}: {job['state']}"
    )
    if job["reason"]:
        console.print(f"reason: {job['reason']}")
    if job["inactive"]:
        console.print("[yellow]inactive: no log output and no metric for the recipe's inactivity limit[/]")
    console.print(f"parameters: {json.dumps(job['parameters'])}")
    console.print(
        f"resources:  {json.dumps(job['resources'])}  priority {job['priority']}, retries {job['max_retries']}"
    )
    print_table(
        ("ATTEMPT", "WORKER", "GPUS", "RUN", "STATE", "REASON"),
        [(a["attempt"], a["worker_id"], ",".join(a["gpus"]), a["run_id"], a["state"], a["reason"]) for a in attempts],
        empty="no attempts yet",
    )
    print_table(
        ("TIME", "ATTEMPT", "EVENT", "DETAIL"),
        [(when(e["time"]), e["attempt"], e["kind"], e["message"] or "") for e in events],
        empty="",
    )


@app.command("events")
def events(
    job_id: Annotated[str, typer.Argument(help="Job id.")],
    server: ServerOption = DEFAULT_SERVER,
    as_json: JsonOption = False,
) -> None:
    """The job's history: every state change, cancel request and watchdog flag."""
    with connect(server) as client:
        found = client.job_events(job_id)
    if as_json:
        print_json(found)
        return
    rows = [
        (when(e["time"]), e["attempt"], e["kind"], e["from_state"] or "", e["to_state"] or "", e["message"] or "")
        for e in found
    ]
    print_table(("TIME", "ATTEMPT", "EVENT", "FROM", "TO", "DETAIL"), rows, empty="no events")


@app.command("logs")
def logs(
    job_id: Annotated[str, typer.Argument(help="Job id.")],
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep streaming until the job ends.")] = False,
    attempt: Annotated[int | None, typer.Option(help="Only this attempt.")] = None,
    server: ServerOption = DEFAULT_SERVER,
) -> None:
    """Print the job's log lines (stdout and stderr, in order)."""
    with connect(server) as client:
        if follow:
            _follow(client, job_id, attempt=attempt)
            return
        after = 0
        while True:
            page = client.job_logs(job_id, after=after, attempt=attempt)
            for line in page["lines"]:
                _print_line(line)
            if not page["lines"]:
                return
            after = int(page["next_after"])


@app.command("cancel")
def cancel(job_id: Annotated[str, typer.Argument(help="Job id.")], server: ServerOption = DEFAULT_SERVER) -> None:
    """Cancel a job (a running one is stopped by its agent)."""
    with connect(server) as client:
        job = client.cancel_job(job_id)
    if job["state"] == "cancelled":
        console.print(f"job {job['job_id']} cancelled")
    else:
        console.print(f"job {job['job_id']}: cancel requested; its agent stops it")


@app.command("retry")
def retry(job_id: Annotated[str, typer.Argument(help="Job id.")], server: ServerOption = DEFAULT_SERVER) -> None:
    """Queue a finished job again (a new attempt with a new tracking run)."""
    with connect(server) as client:
        job = client.retry_job(job_id)
    console.print(f"job {job['job_id']} queued again on {job['queue']}")


def _follow(client: Client, job_id: str, attempt: int | None = None) -> None:
    after = 0
    while True:
        page = client.job_logs(job_id, after=after, attempt=attempt, wait_seconds=20.0)
        for line in page["lines"]:
            _print_line(line)
        after = int(page["next_after"])
        if not page["lines"] and page["state"] in ("succeeded", "failed", "cancelled"):
            job = client.get_job(job_id)
            message = f"job {job_id} {job['state']}" + (f": {job['reason']}" if job["reason"] else "")
            if job["state"] == "succeeded":
                console.print(message)
                return
            fail(message)


def _print_line(line: dict[str, Any]) -> None:
    # Log lines are the recipe's own text: print them verbatim, not as rich markup.
    console.print(line["line"], markup=False, highlight=False, style="red" if line["stream"] == "stderr" else None)
