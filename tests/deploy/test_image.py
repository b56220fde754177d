"""Docker image: one multi-stage image for every process, and what the build context sends."""

from __future__ import annotations

import os

from prompt_ledger.deploy import (
    GATEWAY,
    MIGRATE,
)
from tests.deploy.files import (
    INFRA,
    ROOT,
    dockerfile,
    dockerignore_includes,
    exec_form,
)

# --- Docker image ------------------------------------------------------------------------------


def test_dockerfile_default_command_is_the_gateway_and_healthcheck_is_python() -> None:
    instructions = dockerfile()
    cmds = [i for i in instructions if i.keyword == "CMD"]
    assert len(cmds) == 1
    assert exec_form(cmds[0].argument) == list(GATEWAY.command)
    (check,) = [i for i in instructions if i.keyword == "HEALTHCHECK"]
    probe = exec_form(check.argument.split(" CMD ", 1)[1])
    assert probe == ["python", "/app/infra/healthcheck.py"]
    assert "curl" not in (ROOT / "Dockerfile").read_text()
    script = (INFRA / "healthcheck.py").read_text()
    assert "127.0.0.1" in script
    assert "PORT" in script
    assert GATEWAY.health_path is not None
    assert GATEWAY.health_path in script


def test_dockerfile_is_multi_stage_slim_non_root_without_compilers_at_run_time() -> None:
    instructions = dockerfile()
    args = {
        i.argument.split("=", 1)[0]: i.argument.split("=", 1)[1]
        for i in instructions
        if i.keyword == "ARG"
    }
    assert args["PYTHON_IMAGE"] == "python:3.11-slim"
    stages = [i for i in instructions if i.keyword == "FROM"]
    assert [s.argument for s in stages] == [
        "${PYTHON_IMAGE} AS build",
        "${PYTHON_IMAGE} AS runtime",
    ]
    runtime = [i for i in instructions if i.stage == 1]
    run_lines = " ".join(i.argument for i in runtime if i.keyword == "RUN")
    assert "ca-certificates" in run_lines
    assert "build-essential" not in run_lines
    assert "gcc" not in run_lines
    (user,) = [i for i in runtime if i.keyword == "USER"]
    assert user.argument not in ("root", "0")
    build_runs = " ".join(i.argument for i in instructions if i.stage == 0 and i.keyword == "RUN")
    assert "-r locks/server.txt" in build_runs
    copied = {
        i.argument.split()[0] for i in runtime if i.keyword == "COPY" and "--from" not in i.argument
    }
    assert {"functions", "jobs", "schema"} <= copied


def test_dockerignore_sends_what_the_dockerfile_copies_and_nothing_private() -> None:
    sources: list[str] = []
    for instruction in dockerfile():
        if instruction.keyword == "COPY" and "--from" not in instruction.argument:
            sources += instruction.argument.split()[:-1]
    for source in sources:
        assert (ROOT / source).exists(), source
        assert dockerignore_includes(source), f"{source} is excluded by .dockerignore"
    for private in [
        ".venv/bin/python",
        ".git/config",
        ".env",
        "tests/conftest.py",
        ".promptledger/x",
    ]:
        assert not dockerignore_includes(private), private
    assert not dockerignore_includes("src/prompt_ledger/__pycache__/x.pyc")


def test_start_web_script_migrates_then_execs_the_command() -> None:
    script = INFRA / "start-web.sh"
    assert os.access(script, os.X_OK)
    lines = [line for line in script.read_text().splitlines() if line and not line.startswith("#")]
    assert lines[-2:] == [MIGRATE.shell, 'exec "$@"']
