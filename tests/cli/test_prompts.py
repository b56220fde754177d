"""``promptledger prompts``: push a folder (twice: versions are created once), pull it back,
list, get, versions, diff and label, with their exact output."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from prompt_ledger.sdk import PromptLedger
from tests.cli.conftest import Cli

ANSWER = [
    {"role": "system", "content": "Answer in {{language}}."},
    {"role": "user", "content": "{{question}}"},
]
FILES = {
    "answer.json": json.dumps(ANSWER, indent=2) + "\n",  # the format pull writes
    "farewell.txt": "Bye {{name}}.\n",
    "greet.j2": "Hello {{name}}!\n",
}
RULE = "─"


def folder_of(path: Path, files: dict[str, str]) -> Path:
    path.mkdir()
    for name, text in files.items():
        (path / name).write_text(text)
    return path


def when(moment: datetime | None) -> str:
    assert moment is not None
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def test_push_twice_creates_each_version_once(
    cli: Cli, ledger: PromptLedger, tmp_path: Path
) -> None:
    folder = folder_of(tmp_path / "prompts", FILES)
    args = ("prompts", "push", str(folder), "--owner-team", "docs", "--label", "production")

    first = cli.ok(*args)
    assert first.stdout == (
        "Prompt     Version   Status    File           Label production\n"
        f"{RULE * 62}\n"
        "answer     1         created   answer.json    set\n"
        "farewell   1         created   farewell.txt   set\n"
        "greet      1         created   greet.j2       set\n"
        "3 prompts: 3 created, 0 unchanged.\n"
    )
    assert first.stderr == ""

    second = cli.ok(*args)
    assert second.stdout == (
        "Prompt     Version   Status      File           Label production\n"
        f"{RULE * 64}\n"
        "answer     1         unchanged   answer.json    unchanged\n"
        "farewell   1         unchanged   farewell.txt   unchanged\n"
        "greet      1         unchanged   greet.j2       unchanged\n"
        "3 prompts: 0 created, 3 unchanged.\n"
    )
    for name in ("answer", "farewell", "greet"):
        assert [v.version_number for v in ledger.list_versions(name).items] == [1]
        assert [(e.label, e.to_version) for e in ledger.label_history(name).items] == [
            ("production", 1)
        ]  # the second push moved no label either
    greet = ledger.get_prompt("greet")
    assert (greet.template, greet.owner_team, greet.mode) == ("Hello {{name}}!", "docs", "full")
    answer = ledger.get_prompt("answer")
    assert answer.version is not None
    assert answer.version.kind == "chat"
    assert [m.model_dump() for m in answer.version.messages or []] == ANSWER

    # One changed file: one new version, of that prompt only; the label stays until moved
    (folder / "greet.j2").write_text("Hi {{name}}!\n")
    third = cli.ok("prompts", "push", str(folder), "-m", "shorter", "--json")
    assert json.loads(third.stdout) == [
        {"name": "answer", "file": "answer.json", "version": 1, "status": "unchanged"},
        {"name": "farewell", "file": "farewell.txt", "version": 1, "status": "unchanged"},
        {"name": "greet", "file": "greet.j2", "version": 2, "status": "created"},
    ]
    assert ledger.get_prompt("greet").active_version_number == 2
    assert ledger.get_version("greet", 2).commit_message == "shorter"
    labelled = cli.ok("prompts", "push", str(folder), "--label", "production", "--json")
    assert [item["label"] for item in json.loads(labelled.stdout)] == [
        {"name": "production", "from": 1, "to": 1},
        {"name": "production", "from": 1, "to": 1},
        {"name": "production", "from": 1, "to": 2},
    ]


def test_pull_writes_the_files_back_and_round_trips(
    cli: Cli, ledger: PromptLedger, tmp_path: Path
) -> None:
    folder = folder_of(tmp_path / "prompts", FILES)
    cli.ok("prompts", "push", str(folder))
    exported = tmp_path / "exported"

    pulled = cli.ok("prompts", "pull", str(exported))
    assert pulled.stdout == (
        "Prompt     Version   Status    File\n"
        f"{RULE * 42}\n"
        "answer     1         written   answer.json\n"
        "farewell   1         written   farewell.j2\n"
        "greet      1         written   greet.j2\n"
        "3 prompts: 3 written, 0 unchanged, 0 skipped.\n"
    )
    assert {p.name: p.read_text() for p in exported.iterdir()} == {
        "answer.json": FILES["answer.json"],
        "farewell.j2": FILES["farewell.txt"],
        "greet.j2": FILES["greet.j2"],
    }

    # Into the pushed folder: every file is up to date (farewell.txt is kept, not duplicated)
    again = cli.ok("prompts", "pull", str(folder), "--json")
    assert [(r["file"], r["status"]) for r in json.loads(again.stdout)] == [
        ("answer.json", "unchanged"),
        ("farewell.txt", "unchanged"),
        ("greet.j2", "unchanged"),
    ]
    assert sorted(p.name for p in folder.iterdir()) == sorted(FILES)

    # Pushing what was pulled creates nothing, also from differently formatted JSON
    (exported / "answer.json").write_text(json.dumps({"messages": ANSWER}))
    pushed = cli.ok("prompts", "push", str(exported), "--json")
    assert {r["status"] for r in json.loads(pushed.stdout)} == {"unchanged"}

    # --label: only the prompts carrying it, at the labelled version
    (folder / "greet.j2").write_text("Hi {{name}}!\n")
    cli.ok("prompts", "push", str(folder))
    ledger.set_label("greet", "production", 1)
    production = tmp_path / "production"
    cli.ok("prompts", "pull", str(production), "--label", "production")
    assert {p.name: p.read_text() for p in production.iterdir()} == {
        "greet.j2": "Hello {{name}}!\n"
    }

    # An explicitly named prompt that does not exist: the others are written, exit code 3
    missing = cli("prompts", "pull", str(tmp_path / "some"), "--name", "greet", "--name", "nope")
    assert missing.exit_code == 3
    assert missing.stdout == (
        "Prompt   Version   Status    File\n"
        f"{RULE * 37}\n"
        "greet    2         written   greet.j2\n"
        "nope     -         skipped   -\n"
        "2 prompts: 1 written, 0 unchanged, 1 skipped.\n"
    )
    assert missing.stderr == (
        "skipped nope: Prompt 'nope' not found.\nError: nope: Prompt 'nope' not found.\n"
    )


def test_list_get_versions_diff_and_label(cli: Cli, ledger: PromptLedger) -> None:
    # Templates with a final newline, so the server's diff ends its lines
    mini = {"provider": "openai", "model_name": "gpt-4o-mini"}
    ledger.create_prompt(
        "greet",
        "Hello {{name}}!\n",
        owner_team="growth",
        description="Greets users",
        model_defaults=mini,
    )
    ledger.update_prompt(
        "greet", "Hi {{name}}!\n", model_defaults=mini, created_by="ada", commit_message="shorter"
    )
    ledger.update_prompt(
        "greet",
        "Hi {{name}}!\n",
        model_defaults={"provider": "openai", "model_name": "gpt-4o"},
        created_by="ada",
    )
    ledger.register_code_prompts({"USER_SUMMARY": "Summarize user {{user_id}}."})

    assert cli.ok("prompts", "list").stdout == (
        "Name           Mode       Active   Labels   Owner team   Description\n"
        f"{RULE * 69}\n"
        "USER_SUMMARY   tracking   1        -        -            -\n"
        "greet          full       3        -        growth       Greets users\n"
    )
    assert cli.ok("prompts", "list", "--mode", "tracking", "--json").stdout.count('"name"') == 1

    assert cli.ok("prompts", "label", "greet", "production", "1").stdout == (
        "greet: production -> version 1.\n"
    )
    v1 = ledger.get_version("greet", 1)
    got = cli.ok("prompts", "get", "greet", "--label", "production")
    assert got.stdout == (
        "Name:           greet\n"
        "Version:        1 (label:production)\n"
        "Status:         draft\n"
        "Kind:           text\n"
        "Mode:           full\n"
        "Owner team:     growth\n"
        "Description:    Greets users\n"
        "Labels:         production=1\n"
        "Variables:      name\n"
        'Model defaults: {"model_name": "gpt-4o-mini", "provider": "openai"}\n'
        f"Checksum:       {v1.checksum_hash}\n"
        f"Created:        {when(v1.created_at)} by -\n"
        "\n"
        "Hello {{name}}!\n"
        "\n"
    )
    as_json = json.loads(cli.ok("prompts", "get", "greet", "--json").stdout)
    assert as_json == ledger.get_prompt("greet").to_dict()

    v2, v3 = ledger.get_version("greet", 2), ledger.get_version("greet", 3)
    assert cli.ok("prompts", "versions", "greet").stdout == (
        "Version   Status   Kind   Labels       Created               Created by   Message\n"
        f"{RULE * 81}\n"
        f"3         active   text   -            {when(v3.created_at)}   ada          -\n"
        f"2         draft    text   -            {when(v2.created_at)}   ada          shorter\n"
        f"1         draft    text   production   {when(v1.created_at)}   -            -\n"
    )

    assert cli.ok("prompts", "diff", "greet", "1", "2").stdout == (
        "--- v1\n+++ v2\n@@ -1 +1 @@\n-Hello {{name}}!\n+Hi {{name}}!\n"
    )
    assert cli.ok("prompts", "diff", "greet", "2", "3").stdout == (
        "Model defaults:\n"
        "--- v2\n+++ v3\n@@ -1,4 +1,4 @@\n"
        ' {\n-  "model_name": "gpt-4o-mini",\n+  "model_name": "gpt-4o",\n'
        '   "provider": "openai"\n }\n'
    )
    assert cli.ok("prompts", "diff", "greet", "2", "2").stdout == (
        "Versions 2 and 2 of greet are identical.\n"
    )
    assert (
        json.loads(cli.ok("prompts", "diff", "greet", "1", "2", "--json").stdout)["identical"]
        is False
    )

    assert cli.ok("prompts", "label", "greet", "production", "--remove").stdout == (
        "greet: label production removed.\n"
    )
    assert ledger.list_labels("greet") == []


def test_tracking_mode_push_and_the_full_mode_conflict(
    cli: Cli, ledger: PromptLedger, tmp_path: Path
) -> None:
    folder = folder_of(tmp_path / "code", {"USER_SUMMARY.txt": "Summarize {{user_id}}.\n"})
    first = cli.ok("prompts", "push", str(folder), "--tracking", "--created-by", "ci")
    assert first.stdout == (
        "Prompt         Version   Status    File\n"
        f"{RULE * 51}\n"
        "USER_SUMMARY   1         created   USER_SUMMARY.txt\n"
        "1 prompt: 1 created, 0 unchanged.\n"
    )
    again = cli.ok("prompts", "push", str(folder), "--tracking", "--label", "production")
    assert "USER_SUMMARY   1         unchanged   USER_SUMMARY.txt   set\n" in again.stdout
    labelled = ledger.get_prompt("USER_SUMMARY", label="production")
    assert (labelled.mode, labelled.template) == ("tracking", "Summarize {{user_id}}.")

    refused = cli("prompts", "push", str(folder))  # full mode cannot take a tracked prompt over
    assert refused.exit_code == 4
    assert refused.stderr.startswith(
        "Error: USER_SUMMARY.txt: Prompt 'USER_SUMMARY' is in tracking"
    )
    usage = cli("prompts", "push", str(folder), "--tracking", "--owner-team", "x")
    assert usage.exit_code == 2
