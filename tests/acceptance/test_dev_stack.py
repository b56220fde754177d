"""`promptledger dev` (what `make dev` runs) on a machine with no database: embedded PostgreSQL,
migrations, the model list and the gateway; then the seeds' three registry curl examples."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import DEV_KEY
from tests.readme import curl_commands, readme_block, run_curl

CLI = Path(sys.executable).with_name("promptledger")
ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def workdir() -> Iterator[Path]:
    """A folder outside pytest's (whose root pytest resets to mode 700 at every session start,
    other sessions on the machine included, while the embedded PostgreSQL, run as its own user
    when we are root, must reach its data)."""
    path = Path(tempfile.mkdtemp(prefix="pl-dev-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def dev_stack(workdir: Path) -> Iterator[tuple[str, Path]]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "API_KEY", "PORT"}}
    log = workdir / "dev.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(CLI), "dev", "--port", str(port)],
            cwd=workdir,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if process.poll() is not None:
                pytest.fail(f"promptledger dev exited early:\n{log.read_text()}")
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.3)
        else:
            pytest.fail(f"promptledger dev did not become healthy:\n{log.read_text()}")
        yield url, log
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def test_dev_serves_the_seed_registry_examples(dev_stack: tuple[str, Path], workdir: Path) -> None:
    url, log = dev_stack
    headers = {"X-API-Key": DEV_KEY}
    created = httpx.put(
        f"{url}/v1/prompts/doc_summarizer",
        headers={**headers, "Content-Type": "application/json"},
        content=b"""{
    "description": "Summarize documents",
    "owner_team": "AI-Platform",
    "template_source": "Summarize:\\n{{text}}",
    "created_by": "martin",
    "set_active": true
  }""",
    )
    assert created.status_code == 201, created.text
    got = httpx.get(f"{url}/v1/prompts/doc_summarizer", headers=headers)
    assert got.status_code == 200
    assert got.json()["version"]["template_source"] == "Summarize:\n{{text}}"
    versions = httpx.get(f"{url}/v1/prompts/doc_summarizer/versions", headers=headers)
    assert [v["version_number"] for v in versions.json()["items"]] == [1]

    models = httpx.get(f"{url}/v1/models", headers=headers).json()["items"]
    assert any(m["model_name"] == "gpt-4o-mini" for m in models)
    assert (workdir / ".promptledger" / "pgdata" / "PG_VERSION").is_file()

    # the printed URL, opened in a browser, is the console; /docs shows the API
    opened = httpx.get(url, headers={"Accept": "text/html"}, follow_redirects=True)
    assert opened.status_code == 200
    assert str(opened.url) == f"{url}/sign-in"
    assert "<h1>Sign in</h1>" in opened.text
    assert f"{url}/docs" in log.read_text()
    docs = httpx.get(f"{url}/docs")
    assert docs.status_code == 200
    assert "swagger-ui" in docs.text


def test_dev_prints_a_short_banner_then_ready(dev_stack: tuple[str, Path]) -> None:
    """The URL, the key, where the data lives and how to stop; nothing of PostgreSQL's
    start-up, no log lines, no warnings (unless DEBUG)."""
    url, log = dev_stack
    printed = _until_ready(log)
    assert len(printed) <= MAX_LINES_BEFORE_READY, "\n".join(printed)
    banner = "\n".join(printed)
    for expected in (url, DEV_KEY, ".promptledger/pgdata", "Ctrl+C"):
        assert expected in banner
    for noise in ("initdb", "pg_ctl", "XDG_RUNTIME_DIR", "INFO", "WARNING", "Warning"):
        assert noise not in log.read_text(), noise


MAX_LINES_BEFORE_READY = 15


def _until_ready(log: Path, timeout: float = 30) -> list[str]:
    """The lines printed before the one saying "Ready" (waiting for it)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        lines = log.read_text(errors="replace").splitlines()
        for index, line in enumerate(lines):
            if "Ready" in line:
                return lines[:index]
        time.sleep(0.2)
    pytest.fail(f"no 'Ready' line:\n{log.read_text()}")


MAKE_DEV_WITHIN = 600.0  # a virtualenv made and installed from nothing, on a loaded machine


@pytest.mark.timeout(MAKE_DEV_WITHIN + 120)  # its own deadline fails first, with the log
def test_make_dev_on_a_fresh_clone(workdir: Path) -> None:
    """`make dev` in a copy of the repository with no virtualenv and no database: it creates
    .venv, installs, starts PostgreSQL, and prints at most 15 lines before "Ready"."""
    clone = workdir / "clone"
    files = (
        subprocess.run(
            ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
            cwd=ROOT,
            capture_output=True,
            check=True,
            timeout=60,
        )
        .stdout.decode()
        .split("\0")
    )
    for name in filter(None, files):
        source = ROOT / name
        if source.is_file():
            (clone / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, clone / name)
    port = free_port()
    own = {"DATABASE_URL", "API_KEY", "DEBUG", "MAKELEVEL", "MAKEFLAGS", "MFLAGS"}  # a shell's
    env = {k: v for k, v in os.environ.items() if k not in own}
    env |= {"PORT": str(port), "PYTHON": sys.executable}
    log = workdir / "make-dev.log"
    with log.open("wb") as out:
        make = subprocess.Popen(
            ["make", "dev"],
            cwd=clone,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        printed = _until_ready(log, timeout=MAKE_DEV_WITHIN)
        assert httpx.get(f"http://127.0.0.1:{port}/health", timeout=10).status_code == 200
    finally:
        os.killpg(make.pid, signal.SIGTERM)  # as a platform or a process manager stops it
        try:
            make.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(make.pid, signal.SIGKILL)
            make.wait(timeout=10)
    assert len(printed) <= MAX_LINES_BEFORE_READY, log.read_text()
    assert "Creating .venv" in printed[0]
    postmaster = clone / ".promptledger" / "pgdata" / "postmaster.pid"
    deadline = time.monotonic() + 30
    while postmaster.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not postmaster.exists(), "the embedded PostgreSQL was left running"


def test_readme_try_it_runs(dev_stack: tuple[str, Path]) -> None:
    url, _ = dev_stack
    env = {"KEY": DEV_KEY, "URL": url}
    commands = curl_commands(readme_block("### Try it"))
    assert len(commands) >= 6
    execution_id = ""
    poll: list[str] = []
    for command in commands:
        argv = [a.replace("<execution_id>", execution_id) for a in command]
        response = run_curl(argv, env)
        assert response.status_code in (200, 201, 202), (argv, response.text)
        if response.status_code == 202:
            execution_id = response.json()["execution_id"]
        if "<execution_id>" in " ".join(command):
            poll = argv
    assert execution_id
    assert poll, "the README polls the queued execution"
    # The README's poll, repeated until the dev stack's worker has run the queued execution (a
    # deadline for failure only).
    deadline = time.monotonic() + 60
    body = run_curl(poll, env).json()
    while body["status"] in ("queued", "running") and time.monotonic() < deadline:
        time.sleep(0.2)
        body = run_curl(poll, env).json()
    assert body["status"] == "succeeded", body
    assert body["execution_mode"] == "async"
    assert body["response_text"]
