"""``runyard token create|ls|revoke``: API tokens for CI, scripts and agents, over the server's API."""

from __future__ import annotations

from typing import Annotated

import typer

from runyard.cli.output import console
from runyard.cli.remote import DEFAULT_SERVER, JsonOption, ServerOption, connect, print_json, print_table, when

app = typer.Typer(
    help="API tokens: personal, service-account (--role) and agent (--agent --pool).", no_args_is_help=True
)


@app.command("create")
def create(
    name: Annotated[str, typer.Argument(help="A name for the token, unique among yours.")],
    expires_in: Annotated[str | None, typer.Option("--expires-in", help="Lifetime such as 30d, 12h, 2w.")] = None,
    workspace: Annotated[str | None, typer.Option("--workspace", help="Workspace of a service token.")] = None,
    role: Annotated[str | None, typer.Option("--role", help="Make a service token acting with this role.")] = None,
    agent: Annotated[bool, typer.Option("--agent", help="An agent token (needs --pool).")] = False,
    pool: Annotated[str | None, typer.Option("--pool", help="The one pool an agent token serves.")] = None,
    server: ServerOption = DEFAULT_SERVER,
) -> None:
    """Create a token and print it, alone, on the last line (it is shown only this once)."""
    with connect(server) as client:
        answer = client.create_token(
            name, expires_in=expires_in, workspace=workspace, role=role, agent=agent, pool=pool
        )
    record = answer["token_info"]
    expiry = f", expires {when(record['expires_at'])}" if record.get("expires_at") else ""
    typer.echo(
        f"created {record['kind']} token {record['name']}{expiry}; store it now, it is not shown again:", err=True
    )
    typer.echo(answer["token"])


@app.command("ls")
def list_tokens(
    everyone: Annotated[bool, typer.Option("--all", help="Everyone's tokens (admins).")] = False,
    server: ServerOption = DEFAULT_SERVER,
    as_json: JsonOption = False,
) -> None:
    """List tokens (never their secrets)."""
    with connect(server) as client:
        tokens = client.list_tokens(everyone=everyone)
    if as_json:
        print_json(tokens)
        return
    rows = [
        (t["name"], t["kind"], t["owner"], t.get("workspace") or t.get("pool") or "", t.get("role") or "",
         when(t["creation_time"]), when(t.get("expires_at")) if t.get("expires_at") else "never",
         when(t.get("last_used_at")) if t.get("last_used_at") else "never")
        for t in tokens
    ]  # fmt: skip
    print_table(
        ("NAME", "KIND", "OWNER", "WORKSPACE/POOL", "ROLE", "CREATED", "EXPIRES", "LAST USED"), rows, empty="no tokens"
    )


@app.command("revoke")
def revoke(
    name: Annotated[str, typer.Argument(help="The token's name.")],
    owner: Annotated[str | None, typer.Option("--owner", help="Another user's token (admins).")] = None,
    server: ServerOption = DEFAULT_SERVER,
) -> None:
    """Revoke a token: it stops working at once."""
    with connect(server) as client:
        client.revoke_token(name, owner=owner)
    console.print(f"revoked token {name}")
