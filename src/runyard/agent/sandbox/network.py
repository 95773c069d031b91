"""Private networks for networked jobs at the namespace levels: ``pasta`` (Debian: passt) plus ``_netns.py``.

A job with ``network = true`` at the ``namespace`` or ``bubblewrap`` level gets its own network
namespace with outbound access only; the host's loopback services are unreachable except the
ports the agent hands over (``SandboxSpec.loopback_ports``: the tracking server's, when it listens
on the host's loopback). Without ``pasta`` such jobs share the host's network, and the agent says
so when it starts.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from runyard.agent.sandbox.base import SandboxError, SandboxSpec
from runyard.agent.sandbox.limits import rlimits_for

NETNS = Path(__file__).with_name("_netns.py")
TUN_DEVICE = "/dev/net/tun"
SETUP_TIMEOUT_SECONDS = 30.0
ROUTE_POLL_SECONDS = 0.02
MISSING = "pasta is not installed (Debian/Ubuntu: apt-get install passt)"


_disabled: list[str] = []


def pasta() -> str | None:
    """The ``pasta`` executable, if installed."""
    return shutil.which("pasta")


def missing() -> str | None:
    """``None`` if networked jobs can get a private network here, else why not."""
    if _disabled:
        return _disabled[0]
    return None if pasta() is not None else MISSING


def disable(reason: str) -> None:
    """Give networked jobs the host's network from now on (the agent found private networks do not work)."""
    _disabled[:] = [reason]


def wants_private_network(spec: SandboxSpec) -> bool:
    return spec.network and missing() is None


def wrap(spec: SandboxSpec) -> list[str]:
    """``spec.argv`` run through ``_netns.py`` (copied into the control dir), which applies the rlimits itself."""
    control = spec.control_dir
    control.mkdir(parents=True, exist_ok=True)
    helper = control / "netns.py"
    shutil.copyfile(NETNS, helper)
    config = {
        "pasta": pasta(),
        "loopback_ports": sorted(set(spec.loopback_ports)),
        "rlimits": [[which, soft, hard] for which, (soft, hard) in rlimits_for(spec.limits)],
        "control_dir": str(control),
        "timeout_seconds": SETUP_TIMEOUT_SECONDS,
    }
    config_path = control / "netns.json"
    config_path.write_text(json.dumps(config))
    return [sys.executable, "-I", "-S", str(helper), str(config_path), "--", *spec.argv]


def pasta_command(pid: int, user: tuple[int, int], loopback_ports: list[int] | tuple[int, ...]) -> list[str]:
    """pasta on ``pid``'s namespaces: outbound only, nothing forwarded in, only ``loopback_ports`` to the host."""
    ports = ",".join(str(port) for port in sorted(set(loopback_ports))) or "none"
    return [
        pasta() or "pasta",
        "--config-net",
        "--quiet",
        "--foreground",
        "--runas",
        f"{user[0]}:{user[1]}",
        "--tcp-ports",
        "none",
        "--udp-ports",
        "none",
        "--tcp-ns",
        ports,
        "--udp-ns",
        "none",
        "--no-map-gw",
        str(pid),
    ]


def has_default_route(pid: int) -> bool:
    """Whether the network namespace of ``pid`` has a default route (pasta has configured it)."""
    with open(f"/proc/{pid}/net/route") as routes:
        return any(line.split()[1:2] == ["00000000"] for line in routes.readlines()[1:])


def listening_ports(pid: int) -> set[int]:
    """TCP ports with a listening socket in the network namespace of ``pid``."""
    ports: set[int] = set()
    for table in ("tcp", "tcp6"):
        try:
            with open(f"/proc/{pid}/net/{table}") as sockets:
                for line in sockets.readlines()[1:]:
                    fields = line.split()
                    if len(fields) > 3 and fields[3] == "0A":  # TCP_LISTEN
                        ports.add(int(fields[1].rsplit(":", 1)[1], 16))
        except OSError:
            continue
    return ports


def _network_ready(pid: int, loopback_ports: tuple[int, ...]) -> bool:
    # The default route comes with --config-net; the forwarders of the handed-over ports are bound
    # a moment later, and a job connecting in between would be refused.
    return has_default_route(pid) and set(loopback_ports) <= listening_ports(pid)


def attach(pid: int, user: tuple[int, int], spec: SandboxSpec) -> subprocess.Popen[bytes]:
    """Start pasta on ``pid`` (a sandbox's init) and wait until its network is configured.

    Configured means a default route and a listener inside the namespace for every handed-over
    loopback port.

    Raises:
        SandboxError: pasta did not set the network up in time.
    """
    log_path = spec.control_dir / "pasta.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            pasta_command(pid, user, tuple(spec.loopback_ports)), stdin=subprocess.DEVNULL, stdout=log, stderr=log
        )
    deadline = time.monotonic() + SETUP_TIMEOUT_SECONDS
    while True:
        try:
            if _network_ready(pid, tuple(spec.loopback_ports)):
                return process
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            process.wait()
            detail = " ".join(log_path.read_text(errors="replace").split())[-300:] or "no message"
            raise SandboxError(f"pasta did not set up the job's private network: {detail}")
        time.sleep(ROUTE_POLL_SECONDS)


def read_child_pid(info: int) -> int:
    """The sandbox init's pid from bwrap's ``--info-fd`` JSON."""
    data = b""
    with os.fdopen(info, "rb") as stream:
        while not data.rstrip().endswith(b"}"):
            chunk = stream.read1(4096)
            if not chunk:
                break
            data += chunk
    try:
        return int(json.loads(data)["child-pid"])
    except (ValueError, KeyError) as error:
        raise SandboxError(f"bwrap did not report its sandbox: {data[:200]!r}") from error
