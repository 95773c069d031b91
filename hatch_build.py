"""Hatch build hook: build the web UI (``web/``) into ``src/runyard/ui/static`` before packaging.

Skipped when the bundle is already there (an sdist that carries it installs without Node), or when
``RUNYARD_SKIP_UI_BUILD=1``. Without Node the package still builds; the server then answers ``/``
with a page saying how to build the UI.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

ROOT = Path(__file__).parent
WEB = ROOT / "web"
STATIC = ROOT / "src" / "runyard" / "ui" / "static"


def ui_is_built() -> bool:
    return (STATIC / "index.html").is_file()


def build_ui(log: Any = print) -> bool:
    """Run ``npm ci && npm run build`` in ``web/``; False (with a message) when npm is missing."""
    npm = shutil.which("npm")
    if npm is None or not (WEB / "package.json").is_file():
        log("runyard: npm or web/ not found; building without the web UI")
        return False
    if not (WEB / "node_modules" / ".package-lock.json").is_file():
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=WEB, check=True)
    subprocess.run([npm, "run", "build"], cwd=WEB, check=True)
    return True


class CustomBuildHook(BuildHookInterface):  # type: ignore[type-arg]
    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if os.environ.get("RUNYARD_SKIP_UI_BUILD") != "1" and not ui_is_built():
            build_ui(self.app.display_info)
        if ui_is_built():
            # The bundle is git-ignored: name it explicitly so the wheel and the sdist carry it.
            build_data.setdefault("artifacts", []).append("src/runyard/ui/static/")
