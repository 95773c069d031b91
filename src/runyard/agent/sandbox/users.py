"""The unprivileged user jobs run as when the agent is root, and whether that user can reach a path.

A root agent never runs jobs as root: the kernel does not apply ``RLIMIT_NPROC`` to host root and
root reads every root-only file. Without ``RUNYARD_SANDBOX_RUN_AS_UID`` the agent uses a dedicated
system user (``runyard-job`` by default), created with ``useradd`` when it does not exist.
"""

from __future__ import annotations

import os
import pwd
import shutil
import stat
import subprocess
from pathlib import Path

USERADD_TIMEOUT_SECONDS = 30.0


class JobUserError(Exception):
    """The job user cannot be found or created."""


def ensure_job_user(name: str) -> tuple[int, int]:
    """``(uid, gid)`` of system user ``name``, created (with its own group, no home, no shell) if missing."""
    try:
        entry = pwd.getpwnam(name)
        return entry.pw_uid, entry.pw_gid
    except KeyError:
        pass
    useradd = shutil.which("useradd")
    if useradd is None:
        raise JobUserError(
            f"the agent runs as root and the job user {name!r} does not exist; useradd is not installed to create "
            "it: create the user or set RUNYARD_SANDBOX_RUN_AS_UID"
        )
    command = [useradd, "--system", "--user-group", "--no-create-home", "--home-dir", "/nonexistent"]
    command += ["--shell", "/usr/sbin/nologin", name]
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=USERADD_TIMEOUT_SECONDS, check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise JobUserError(f"cannot create the job user {name!r}: {error}") from error
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        detail = (result.stderr or result.stdout).strip() or f"useradd exited {result.returncode}"
        raise JobUserError(
            f"cannot create the job user {name!r}: {detail}; create it or set RUNYARD_SANDBOX_RUN_AS_UID"
        ) from None
    return entry.pw_uid, entry.pw_gid


def _may(mode: int, owner: int, group: int, uid: int, gid: int, want: int) -> bool:
    """Whether ``uid``/``gid`` has the ``want`` bits (``stat.S_IROTH``-style, 0o1/0o4) on an inode."""
    if owner == uid:
        return bool(mode & (want << 6))
    if group == gid:
        return bool(mode & (want << 3))
    return bool(mode & want)


def unreachable_for(path: Path | str, uid: int, gid: int) -> str | None:
    """``None`` if ``uid``/``gid`` can reach and read ``path`` (following symlinks), else what blocks it.

    Only mode bits are read (no ACLs, no supplementary groups): a conservative answer for a
    system user that belongs to its own group only.
    """
    target = os.path.realpath(path)
    current = "/"
    for part in [p for p in target.split("/") if p]:
        info = os.stat(current)
        if not _may(info.st_mode, info.st_uid, info.st_gid, uid, gid, 0o1):
            return f"{current} is mode {stat.S_IMODE(info.st_mode):04o}, owned by uid {info.st_uid}"
        current = os.path.join(current, part)
    try:
        info = os.stat(current)
    except OSError as error:
        return f"{current}: {error.strerror}"
    if not _may(info.st_mode, info.st_uid, info.st_gid, uid, gid, 0o4):
        return f"{current} is mode {stat.S_IMODE(info.st_mode):04o}, owned by uid {info.st_uid}"
    return None
