"""Init of a ``namespace``-level sandbox: builds the job's root filesystem, then runs the job as its child.

Usage: ``unshare --user --map-root-user --mount --pid --fork … python -I -S _nsinit.py SPEC.json``.

It runs as root of a fresh user namespace and PID 1 of a fresh PID namespace, in a private mount
namespace. It mounts a small tmpfs as the new root; bind-mounts the system paths and the Python
installation read-only, the job directory read-write, ``/tmp`` onto the job's own tmp folder,
``/proc`` for the new PID namespace and a handful of device nodes; brings up loopback when the job
has its own network namespace; switches root with ``pivot_root`` and detaches the old one (so no
host path stays reachable); applies the rlimits; then forks the job and reaps orphans until the job
exits. A job killed by signal N makes it exit 128 + N. When PID 1 exits the kernel kills every
process left in the namespace.

Only the standard library is used: the file is run by path, outside any virtualenv site setup.
"""

import ctypes
import ctypes.util
import fcntl
import json
import os
import platform
import resource
import signal
import socket
import stat
import struct
import sys
from typing import Any

MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_NOATIME = 1024
MS_NODIRATIME = 2048
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
MS_RELATIME = 1 << 21
MNT_DETACH = 2
PR_SET_NO_NEW_PRIVS = 38
# Flags the kernel locks on mounts inherited from a more privileged namespace: a read-only remount
# must repeat them or it fails with EPERM.
_STATVFS_TO_MS = {
    os.ST_NOSUID: MS_NOSUID,
    os.ST_NODEV: MS_NODEV,
    os.ST_NOEXEC: MS_NOEXEC,
    os.ST_NOATIME: MS_NOATIME,
    os.ST_NODIRATIME: MS_NODIRATIME,
    os.ST_RELATIME: MS_RELATIME,
}
_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41, "ppc64le": 203, "s390x": 217}
SANDBOX_ERROR_MARKER = "sandbox-error"
DEVICES = ("null", "zero", "full", "random", "urandom", "tty")

_libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        error = ctypes.get_errno()
        raise OSError(error, f"{what}: {os.strerror(error)}")


def mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    _check(
        _libc.mount(
            source.encode() if source else None,
            target.encode(),
            fstype.encode() if fstype else None,
            ctypes.c_ulong(flags),
            data.encode() if data else None,
        ),
        f"mount {source or fstype} on {target}",
    )


def _mount_points_under(target: str) -> list[str]:
    points = []
    with open("/proc/self/mountinfo") as mountinfo:
        for line in mountinfo:
            point = line.split()[4].replace("\\040", " ")
            if point == target or point.startswith(target.rstrip("/") + "/"):
                points.append(point)
    return points


def _make_target(target: str, like: str) -> None:
    if os.path.isdir(like):
        os.makedirs(target, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        if not os.path.exists(target):
            os.close(os.open(target, os.O_WRONLY | os.O_CREAT, 0o644))


def bind(source: str, target: str, read_only: bool, recursive: bool = True) -> None:
    """Bind ``source`` (and its sub-mounts) at ``target``, every one of them read-only if asked."""
    _make_target(target, source)
    mount(source, target, None, MS_BIND | (MS_REC if recursive else 0))
    if not read_only:
        return
    for point in _mount_points_under(target):
        locked = 0
        try:
            flags = os.statvfs(point).f_flag
        except OSError:
            continue
        for st_flag, ms_flag in _STATVFS_TO_MS.items():
            if flags & st_flag:
                locked |= ms_flag
        try:
            mount(None, point, None, MS_REMOUNT | MS_BIND | MS_RDONLY | locked)
        except OSError:
            if point == target:
                raise


def bring_up_loopback() -> None:
    """A private network namespace starts with ``lo`` down; jobs may still talk to themselves."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack("16sH22s", b"lo", 0, b"")
        flags = struct.unpack("16sH22s", fcntl.ioctl(sock, 0x8913, request))[1]  # SIOCGIFFLAGS
        fcntl.ioctl(sock, 0x8914, struct.pack("16sH22s", b"lo", flags | 1, b""))  # SIOCSIFFLAGS, IFF_UP


def build_root(spec: dict[str, Any]) -> None:
    new_root = spec["new_root"]
    mount(None, "/", None, MS_REC | MS_PRIVATE)
    mount("tmpfs", new_root, "tmpfs", MS_NOSUID | MS_NODEV, "size=4m,mode=0755")
    # The private /tmp comes first: read-only paths (a virtualenv in /tmp/…) and the job directory may
    # themselves live under /tmp and must be mounted over it, not hidden by it.
    bind(spec["tmp_path"], new_root + "/tmp", read_only=False)
    for path in spec["ro_paths"]:
        if not os.path.lexists(path):
            continue
        target = new_root + path
        if os.path.islink(path) and os.path.dirname(path) == "/":
            # usr-merged systems: /bin -> usr/bin and friends stay symlinks.
            os.symlink(os.readlink(path), target)
            continue
        bind(path, target, read_only=True)
    bind(spec["rw_path"], new_root + spec["rw_path"], read_only=False, recursive=False)
    dev = new_root + "/dev"
    os.makedirs(dev, exist_ok=True)
    mount("tmpfs", dev, "tmpfs", MS_NOSUID, "size=64k,mode=0755")
    for name in DEVICES:
        if os.path.exists("/dev/" + name):
            bind("/dev/" + name, f"{dev}/{name}", read_only=False)
    for device in spec["devices"]:
        if os.path.exists(device) and stat.S_ISCHR(os.stat(device).st_mode):
            bind(device, new_root + device, read_only=False)
    os.makedirs(dev + "/shm")
    mount("tmpfs", dev + "/shm", "tmpfs", MS_NOSUID | MS_NODEV, "size=64m,mode=1777")
    for name, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1")):
        os.symlink(target, f"{dev}/{name}")
    os.symlink("/proc/self/fd/2", f"{dev}/stderr")
    os.makedirs(new_root + "/proc")
    mount("proc", new_root + "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    # pivot_root(".", ".") then detaching "." leaves the new root as the only root (runc's trick).
    os.chdir(new_root)
    number = _PIVOT_ROOT.get(platform.machine())
    if number is None:
        raise OSError(f"pivot_root: unsupported machine {platform.machine()}")
    _check(_libc.syscall(number, b".", b"."), "pivot_root")
    _check(_libc.umount2(b".", MNT_DETACH), "detach the old root")
    os.chdir("/")
    mount(None, "/", None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)


def run_job(spec: dict[str, Any]) -> int:
    pid = os.fork()
    if pid == 0:
        try:
            os.chdir(spec["cwd"])
            # Python ignores SIGPIPE and SIGXFSZ and ignored signals survive exec: give the job the defaults.
            for name in ("SIGPIPE", "SIGXFSZ", "SIGXFZ"):
                if hasattr(signal, name):
                    signal.signal(getattr(signal, name), signal.SIG_DFL)
            for which, soft, hard in spec["rlimits"]:
                resource.setrlimit(which, (soft, hard))
            if spec.get("run_as"):
                uid, gid = spec["run_as"]
                os.setgroups([])
                os.setgid(gid)
                os.setuid(uid)
            _check(_libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")
            os.execvp(spec["argv"][0], spec["argv"])
        except OSError as error:
            sys.stderr.write(f"runyard sandbox: cannot run {spec['argv'][0]!r}: {error.strerror}\n")
        os._exit(127)
    # PID 1 adopts every orphan in the namespace: reap them all until the job itself exits.
    while True:
        try:
            child, status = os.wait()
        except ChildProcessError:
            return 127
        if child == pid:
            if os.WIFSIGNALED(status):
                return 128 + os.WTERMSIG(status)
            return os.WEXITSTATUS(status)


def main() -> None:
    with open(sys.argv[1]) as spec_file:
        spec = json.load(spec_file)
    try:
        if not spec["network"]:
            bring_up_loopback()
        build_root(spec)
    except OSError as error:
        message = f"cannot build the namespace sandbox: {error}"
        sys.stderr.write(f"runyard sandbox: {message}\n")
        try:
            with open(os.path.join(spec["control_dir"], SANDBOX_ERROR_MARKER), "w") as marker:
                marker.write(message)
        except OSError:
            pass
        os._exit(126)
    sys.stdout.flush()
    os._exit(run_job(spec))


if __name__ == "__main__":
    main()
