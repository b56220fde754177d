"""``make buttons`` (infra/buttons.py): the README's Render and Heroku buttons carry the
repository URL (GitHub sends only its origin as referrer, so a button must name the repository),
written for the clone's ``origin`` or a given URL, and only between the README's markers."""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from tests.deploy.files import INFRA, ROOT


def load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("buttons_under_test", INFRA / "buttons.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


buttons = load()


@pytest.mark.parametrize(
    "remote",
    [
        "git@github.com:acme/prompt-ledger.git",
        "ssh://git@github.com/acme/prompt-ledger.git",
        "https://github.com/acme/prompt-ledger.git",
        "https://github.com/acme/prompt-ledger/",
        "https://x-access-token:ghs_secret@github.com/acme/prompt-ledger.git",
    ],
)
def test_any_clone_url_becomes_the_repository_page(remote: str) -> None:
    assert buttons.https_url(remote) == "https://github.com/acme/prompt-ledger"


@pytest.mark.parametrize("remote", ["/work/main", "../prompt-ledger", "https://github.com/acme"])
def test_a_local_path_or_partial_url_is_refused(remote: str) -> None:
    with pytest.raises(ValueError, match="not a repository URL"):
        buttons.https_url(remote)


def readme_copy(tmp_path: Path) -> Path:
    copy = tmp_path / "README.md"
    shutil.copy(ROOT / "README.md", copy)
    return copy


def links(text: str) -> list[str]:
    start, end = text.index(buttons.START), text.index(buttons.END)
    return re.findall(r"\]\((https://[^)]+)\)", text[start:end])


def test_the_readme_block_is_the_one_the_script_writes() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    current = links(text)
    repos = {link.split("=", 1)[1] for link in current if "deploy?" in link}
    assert len(repos) <= 1
    repo = repos.pop() if repos else None
    assert buttons.rewrite(text, repo, None) == text  # nothing hand-edited between the markers
    assert all("<" not in link and "your" not in link for link in current)


def test_make_buttons_writes_both_buttons_for_the_given_repository(tmp_path: Path) -> None:
    readme = readme_copy(tmp_path)
    before = readme.read_text(encoding="utf-8")
    result = subprocess.run(
        [sys.executable, str(INFRA / "buttons.py"), "--readme", str(readme), "--repo",
         "git@github.com:acme/prompt-ledger.git"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    after = readme.read_text(encoding="utf-8")
    assert links(after)[:2] == [
        "https://render.com/images/deploy-to-render-button.svg",
        "https://render.com/deploy?repo=https://github.com/acme/prompt-ledger",
    ]
    assert "https://www.heroku.com/deploy?template=https://github.com/acme/prompt-ledger" in after
    # Only the block changed.
    assert before.split(buttons.START)[0] == after.split(buttons.START)[0]
    assert before.split(buttons.END)[1] == after.split(buttons.END)[1]


def test_the_origin_remote_is_the_default_and_a_railway_template_is_kept(
    tmp_path: Path,
) -> None:
    clone = tmp_path / "clone"
    (clone / "infra").mkdir(parents=True)
    shutil.copy(INFRA / "buttons.py", clone / "infra" / "buttons.py")
    readme_copy(clone)
    git = ["git", "-C", str(clone)]
    subprocess.run([*git, "init", "-q"], check=True, timeout=60)
    subprocess.run(
        [*git, "remote", "add", "origin", "https://github.com/fork/pl.git"], check=True, timeout=60
    )
    script = [sys.executable, str(clone / "infra" / "buttons.py")]
    first = subprocess.run(
        [*script, "--railway-template", "AbC123"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip() == "README.md: deploy buttons for https://github.com/fork/pl"
    second = subprocess.run(script, capture_output=True, text=True, check=True, timeout=60)
    assert second.returncode == 0
    text = (clone / "README.md").read_text(encoding="utf-8")
    assert "https://render.com/deploy?repo=https://github.com/fork/pl" in text
    assert "https://railway.com/new/template/AbC123?utm_medium=integration" in text


def test_no_origin_is_one_clear_line_and_exit_2(tmp_path: Path) -> None:
    clone = tmp_path / "clone"
    (clone / "infra").mkdir(parents=True)
    shutil.copy(INFRA / "buttons.py", clone / "infra" / "buttons.py")
    readme_copy(clone)
    subprocess.run(["git", "-C", str(clone), "init", "-q"], check=True, timeout=60)
    result = subprocess.run(
        [sys.executable, str(clone / "infra" / "buttons.py")],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "buttons: no git remote 'origin': pass --repo https://github.com/<owner>/<name>"
    )
