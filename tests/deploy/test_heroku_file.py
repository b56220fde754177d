"""app.json + Procfile (Heroku), and the deployment guide, against the service catalogue.

Each platform must run each service of its topology with the catalogue's command, health path
and schedule, and nothing the catalogue lacks: a service added to the catalogue (or a function
added to FUNCTIONS) fails here until every platform runs it."""

from __future__ import annotations

from prompt_ledger.deploy import (
    GATEWAY,
    MIGRATE,
    SERVICES,
    WORKER,
    topology,
)
from tests.deploy.files import (
    ROOT,
    app_json,
    procfile,
    words,
)

# --- Heroku ------------------------------------------------------------------------------------

HEROKU_TYPES = {"web": GATEWAY, "worker": WORKER, "release": MIGRATE}


def test_procfile_runs_the_gateway_topology() -> None:
    assert {kind: words(cmd) for kind, cmd in procfile().items()} == {
        kind: s.command for kind, s in HEROKU_TYPES.items()
    }
    single = {s.name for s in topology(gateway=True) if s.kind != "cron"}
    assert {s.name for s in HEROKU_TYPES.values()} == single


def test_heroku_crons_are_documented_as_scheduler_jobs() -> None:
    # Heroku has no cron in the Procfile (a Scheduler add-on job is set in the dashboard); the
    # deployment guide lists each cron's command for it.
    guide = (ROOT / "docs" / "deployment.md").read_text()
    heroku = guide.split("## Heroku", 1)[1].split("\n## ", 1)[0]
    for s in SERVICES:
        if s.kind == "cron":
            assert f"`{s.shell}`" in heroku, s.name
            assert f"`{s.schedule}`" in heroku, s.name


def test_app_json_provisions_postgres_secrets_and_formation() -> None:
    app = app_json()
    assert "heroku-postgresql" in app["addons"]
    assert app["env"]["API_KEY"]["generator"] == "secret"
    assert app["env"]["OPENAI_API_KEY"]["required"] is False
    assert app["env"]["ENVIRONMENT"]["value"] == "production"
    assert app["env"]["DEMO_FALLBACK"]["value"] == "auto"
    assert set(app["formation"]) == {"web", "worker"}
    assert set(app["formation"]) <= set(procfile())
    assert all(f["quantity"] >= 1 for f in app["formation"].values())
    assert (ROOT / "requirements.txt").read_text().splitlines()[-1] == ".[server]"


# --- The guide -----------------------------------------------------------------------------------


def test_deployment_guide_lists_every_service_with_its_command() -> None:
    guide = (ROOT / "docs" / "deployment.md").read_text()
    table = guide.split("## The services", 1)[1].split("\n\n", 2)[2].split("\n\n", 1)[0]
    rows = {line.split("|")[1].strip(): line for line in table.splitlines()[2:]}
    assert set(rows) == {s.name for s in SERVICES}
    for s in SERVICES:
        assert f"| {s.kind} | `{s.shell}` |" in rows[s.name]
        if s.schedule:
            assert f"`{s.schedule}`" in rows[s.name]
