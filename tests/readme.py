"""README.md's shell examples as data: its bash blocks, their curl commands, and a runner for
the subset of curl they use (so a test sends exactly what the README tells a user to send)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import httpx

README = Path(__file__).resolve().parents[1] / "README.md"


def readme_block(heading: str, path: Path = README) -> str:
    """The first ```bash block after a heading of README.md (or of ``path``)."""
    text = path.read_text()
    after = text[text.index(heading) :]
    start = after.index("```bash\n") + len("```bash\n")
    return after[start : after.index("```", start)]


def curl_commands(block: str) -> list[list[str]]:
    """Each curl command of a shell block, as argv (comments and line continuations handled)."""
    tokens = shlex.split(block.replace("\\\n", " "), comments=True)
    commands: list[list[str]] = []
    for token in tokens:
        if token == "curl":
            commands.append([token])
        elif commands:
            commands[-1].append(token)
    return commands


def run_curl(argv: list[str], env: dict[str, str]) -> httpx.Response:
    """The subset of curl the docs use: -X, -H, -d, one URL, and -f/-s/-S (no effect here: the
    caller checks the status)."""
    method, headers, data, url = "GET", {}, None, ""
    args = iter(argv[1:])
    for arg in args:
        if arg == "-X":
            method = next(args)
        elif arg == "-H":
            name, _, value = next(args).partition(":")
            headers[name.strip()] = value.strip()
        elif arg == "-d":
            data = next(args)
        elif arg.startswith("-") and set(arg[1:]) <= set("fsS"):
            continue
        else:
            url = arg

    def expand(text: str) -> str:
        return re.sub(r"\$(\w+)", lambda m: env[m.group(1)], text)

    return httpx.request(
        method,
        expand(url),
        headers={k: expand(v) for k, v in headers.items()},
        content=None if data is None else data.encode(),
        timeout=30,
    )
