"""Write the server's OpenAPI document to web/openapi.json, the input of the UI's typed client.

Run: .venv/bin/python scripts/ui_openapi.py && (cd web && npm run api-types)
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from runyard.server.app import create_app
from runyard.settings import ServerSettings

OUT = Path(__file__).resolve().parent.parent / "web" / "openapi.json"


def main() -> None:
    with tempfile.TemporaryDirectory() as directory:
        settings = ServerSettings(data_dir=Path(directory), local_pool=False)
        app = create_app(settings)
        OUT.write_text(json.dumps(app.openapi(), indent=1, sort_keys=True) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
