"""Gives a networked job its own network namespace, connected outwards by ``pasta`` (Debian: passt).

Usage: ``python -I -S _netns.py CONFIG.json -- ARGV…`` (run inside the namespace or bubblewrap
sandbox, as the user the job runs as).

The process forks. The child enters a new user and network namespace (the user namespace maps
only its own uid and gid, so it stays an ordinary user) and tells the parent, which starts
``pasta`` on the child's namespace: outbound TCP/UDP goes out through host sockets, nothing is
forwarded in, the gateway is not mapped to the host (``--no-map-gw``), and only the host loopback
ports listed in the config (the tracking server's) are forwarded from the job's own loopback. So
the host's loopback services (databases, Redis, other agents) are unreachable. The child waits
for its default route, applies the job's rlimits and runs the job; the parent exits with the
job's status (``128 + N`` for signal N) after stopping pasta.

Only the standard library is used: the file is run by path, outside any virtualenv site setup.
"""

import ctypes
import ctypes.util
import json
import os
import resource
import signal
import subprocess
import sys
import time
from typing import Any

CLONE_NEWUSER = 0x10000000
CLONE_NEWNET = 0x40000000
PR_SET_NO_NEW_PRIVS = 38
SANDBOX_ERROR_MARKER = "sandbox-error"
PASTA_LOG = "pasta.log"
ROUTE_POLL_SECONDS = 0.02

_libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)


def _fail(config: dict[str, Any], message: str) -> None:
    sys.stderr.write(f"runyard sandbox: {message}\n")
    try:
        with open(os.path.join(config["control_dir"], SANDBOX_ERROR_MARKER), "w") as marker:
            marker.write(message)
    except OSError:
        pass
    os._exit(126)


def _write(path: str, text: str) -> None:
    with open(path, "w") as handle:
        handle.write(text)


def _enter_namespaces(uid: int, gid: int) -> None:
    if _libc.unshare(CLONE_NEWUSER | CLONE_NEWNET) != 0:
        error = ctypes.get_errno()
        raise OSError(error, f"unshare(user, net): {os.strerror(error)}")
    _write("/proc/self/setgroups", "deny")
    _write("/proc/self/uid_map", f"{uid} {uid} 1")
    _write("/proc/self/gid_map", f"{gid} {gid} 1")


def _has_default_route() -> bool:
    with open("/proc/self/net/route") as routes:
        return any(line.split()[1:2] == ["00000000"] for line in routes.readlines()[1:])


def _child(config: dict[str, Any], argv: list[str], ready: int, uid: int, gid: int) -> None:
    try:
        _enter_namespaces(uid, gid)
    except OSError as error:
        _fail(config, f"cannot give the job a private network: {error}")
    os.write(ready, b"1")
    os.close(ready)
    deadline = time.monotonic() + float(config["timeout_seconds"])
    while not _has_default_route():
        if time.monotonic() > deadline:
            _fail(
                config,
                f"pasta did not set up the private network in {config['timeout_seconds']} s: {_pasta_log(config)}",
            )
        time.sleep(ROUTE_POLL_SECONDS)
    for which, soft, hard in config["rlimits"]:
        resource.setrlimit(which, (soft, hard))
    _libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
    for name in ("SIGPIPE", "SIGXFSZ"):
        signal.signal(getattr(signal, name), signal.SIG_DFL)
    try:
        os.execvp(argv[0], argv)
    except OSError as error:
        sys.stderr.write(f"runyard sandbox: cannot run {argv[0]!r}: {error.strerror}\n")
    os._exit(127)


def _pasta(config: dict[str, Any], pid: int, uid: int, gid: int) -> subprocess.Popen[bytes]:
    ports = ",".join(str(port) for port in config["loopback_ports"]) or "none"
    command = [config["pasta"], "--config-net", "--quiet", "--foreground", "--runas", f"{uid}:{gid}"]
    command += ["--tcp-ports", "none", "--udp-ports", "none", "--tcp-ns", ports, "--udp-ns", "none", "--no-map-gw"]
    with open(os.path.join(config["control_dir"], PASTA_LOG), "wb") as log:
        return subprocess.Popen([*command, str(pid)], stdin=subprocess.DEVNULL, stdout=log, stderr=log)


def _pasta_log(config: dict[str, Any]) -> str:
    try:
        with open(os.path.join(config["control_dir"], PASTA_LOG), errors="replace") as log:
            return " ".join(log.read().split())[-300:] or "no message"
    except OSError:
        return "no message"


def main() -> None:
    with open(sys.argv[1]) as config_file:
        config = json.load(config_file)
    argv = sys.argv[sys.argv.index("--") + 1 :]
    uid, gid = os.getuid(), os.getgid()
    ready_read, ready_write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(ready_read)
        _child(config, argv, ready_write, uid, gid)
    os.close(ready_write)
    if os.read(ready_read, 1) != b"1":
        _, status = os.waitpid(pid, 0)
        os._exit(os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 126)
    os.close(ready_read)
    try:
        pasta = _pasta(config, pid, uid, gid)
    except OSError as error:
        os.kill(pid, signal.SIGKILL)
        _fail(config, f"cannot start pasta: {error.strerror}")
    _, status = os.waitpid(pid, 0)
    pasta.kill()
    pasta.wait()
    os._exit(128 + os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status))


if __name__ == "__main__":
    main()
