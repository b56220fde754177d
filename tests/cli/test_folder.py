"""The template folder of ``prompts push``/``pull`` (no server): which files are prompts, how
they are read, and that writing them back is the exact inverse."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from prompt_ledger.cli import folder
from prompt_ledger.cli.failures import CLIError, ExitCode


def test_which_files_are_prompts(tmp_path: Path) -> None:
    for name in ("b.j2", "a.txt", "c.md", "d.jinja", "e.json", "f.py", ".hidden.j2", "G.J2"):
        (tmp_path / name).write_text("x")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "nested.j2").write_text("x")
    names = [p.name for p in folder.template_paths(tmp_path)]
    assert names == ["G.J2", "a.txt", "b.j2", "c.md", "d.jinja", "e.json"]


@pytest.mark.parametrize(
    ("text", "template"),
    [
        ("Hello {{name}}!\n", "Hello {{name}}!"),
        ("Hello {{name}}!", "Hello {{name}}!"),
        ("two\nlines\n\n", "two\nlines\n"),
        ("windows\r\nlines\r\n", "windows\nlines"),
    ],
)
def test_a_text_file_without_its_final_newline(tmp_path: Path, text: str, template: str) -> None:
    path = tmp_path / "greet.j2"
    path.write_bytes(text.encode())
    read = folder.read(path)
    assert (read.name, read.kind, read.template) == ("greet", "text", template)
    path.write_text(folder.content(read.template))
    assert folder.read(path).template == template  # written back, read again: the same


def test_chat_files(tmp_path: Path) -> None:
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "{{q}}"}]
    path = tmp_path / "answer.json"
    for data in (messages, {"messages": messages}):
        path.write_text(json.dumps(data))
        read = folder.read(path)
        assert (read.kind, read.template) == ("chat", messages)
    assert folder.content(messages) == json.dumps(messages, indent=2) + "\n"
    for bad in ("{", "[]", '[{"role": "user"}]', '[{"role": "user", "content": 1}]', '"text"'):
        path.write_text(bad)
        with pytest.raises(CLIError) as refused:
            folder.read(path)
        assert refused.value.code == ExitCode.VALIDATION


def test_unreadable_files_are_invalid_input(tmp_path: Path) -> None:
    path = tmp_path / "latin1.txt"
    path.write_bytes("café".encode("latin-1"))
    with pytest.raises(CLIError, match="not UTF-8 text") as refused:
        folder.read(path)
    assert refused.value.code == ExitCode.VALIDATION


def test_pull_updates_the_existing_file_of_a_prompt(tmp_path: Path) -> None:
    assert folder.target(tmp_path, "greet", "text") == tmp_path / "greet.j2"
    assert folder.target(tmp_path, "answer", "chat") == tmp_path / "answer.json"
    (tmp_path / "greet.md").write_text("x")
    (tmp_path / "answer.txt").write_text("x")  # a text file: not where a chat prompt goes
    assert folder.target(tmp_path, "greet", "text") == tmp_path / "greet.md"
    assert folder.target(tmp_path, "answer", "chat") == tmp_path / "answer.json"
