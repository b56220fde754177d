"""Refresh the console's vendored front-end assets from the npm registry (development time only).

    make vendor            # or: python infra/vendor_assets.py

The console serves these files itself, so its pages work with no internet. Each package is
fetched with ``npm pack`` at the pinned version below; only the files the console loads are
kept, with the package's licence, and ``static/vendor/VENDORED.json`` records what was taken
(package, version, licence, file sizes and SHA-256). Change a version here, rerun, commit.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

VENDOR = Path(__file__).resolve().parents[1] / "src/prompt_ledger/console/static/vendor"

# package, version, {file in the package: name under static/vendor/<dir>/}
PACKAGES: list[tuple[str, str, str, dict[str, str]]] = [
    ("htmx.org", "2.0.11", "htmx", {"dist/htmx.min.js": "htmx.min.js"}),
    (
        "uplot",
        "1.6.32",
        "uplot",
        {"dist/uPlot.iife.min.js": "uPlot.iife.min.js", "dist/uPlot.min.css": "uPlot.min.css"},
    ),
    (
        "swagger-ui-dist",
        "5.35.0",
        "swagger-ui",
        {
            "swagger-ui-bundle.js": "swagger-ui-bundle.js",
            "swagger-ui.css": "swagger-ui.css",
            "NOTICE": "NOTICE",
            "swagger-ui-bundle.js.LICENSE.txt": "swagger-ui-bundle.js.LICENSE.txt",
        },
    ),
]
LICENCE_NAMES = ("LICENSE", "LICENSE.md", "LICENSE.txt", "license", "LICENCE")


def _pack(name: str, version: str, into: Path) -> Path:
    out = subprocess.run(  # noqa: S603 - fixed argv, pinned names
        ["npm", "pack", f"{name}@{version}", "--json", "--silent"],  # noqa: S607
        cwd=into,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    filename: str = json.loads(out)[0]["filename"]
    return into / filename


def _strip_source_map(data: bytes) -> bytes:
    """Drop the sourceMappingURL comment: the maps are not vendored (no 404s in devtools)."""
    lines = data.rstrip(b"\n").split(b"\n")
    while lines and lines[-1].lstrip().startswith(
        (b"//# sourceMappingURL", b"/*# sourceMappingURL")
    ):
        lines.pop()
    return b"\n".join(lines) + b"\n"


def main() -> int:
    record: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory(prefix="pl-vendor-") as tmp:
        for name, version, folder, files in PACKAGES:
            tarball = _pack(name, version, Path(tmp))
            target = VENDOR / folder
            target.mkdir(parents=True, exist_ok=True)
            with tarfile.open(tarball) as archive:
                members = {m.name.removeprefix("package/"): m for m in archive.getmembers()}
                manifest = json.load(archive.extractfile(members["package.json"]))  # type: ignore[arg-type]
                licence = next(n for n in LICENCE_NAMES if n in members)
                kept: dict[str, dict[str, object]] = {}
                for source, dest in {**files, licence: "LICENSE"}.items():
                    data = archive.extractfile(members[source]).read()  # type: ignore[union-attr]
                    if dest.endswith((".js", ".css")):
                        data = _strip_source_map(data)
                    (target / dest).write_bytes(data)
                    kept[dest] = {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
            record.append(
                {
                    "package": name,
                    "version": manifest["version"],
                    "license": manifest.get("license"),
                    "folder": folder,
                    "files": kept,
                }
            )
            print(f"{name}@{manifest['version']} ({manifest.get('license')}) -> vendor/{folder}")
    (VENDOR / "VENDORED.json").write_text(json.dumps(record, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
