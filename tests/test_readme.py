"""The README's command list and settings table say everything the command line takes: every
command, every option, every variable the settings read."""

import re
from collections.abc import Iterator
from pathlib import Path

import click

from disclosure import settings
from gongshi import cli

ROOT = Path(__file__).resolve().parent.parent


def _section(title: str) -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else None]


def _entries(section: str, paths: set[str]) -> dict[str, str]:
    """The command list's entries, by the command (one of `paths`) that starts each."""
    block = section.split("```", 2)[1]
    found: dict[str, str] = {}
    for entry in re.split(r"\n(?=gongshi )", block):
        if not entry.startswith("gongshi "):
            continue
        words = entry.split()[1:3]
        # `gongshi token create …`, `gongshi sample …`, or `gongshi --version`
        name = next((" ".join(words[:n]) for n in (2, 1) if " ".join(words[:n]) in paths), "")
        found[name] = found.get(name, "") + entry
    return found


def _commands(command: click.Command, path: str) -> Iterator[tuple[str, click.Command]]:
    yield path, command
    if isinstance(command, click.Group):
        for name, sub in sorted(command.commands.items()):
            yield from _commands(sub, f"{path} {name}".strip())


def test_every_command_and_option_is_in_the_command_list() -> None:
    commands = dict(_commands(cli.main, ""))
    entries = _entries(_section("The command line"), set(commands))
    missing = []
    for path, command in commands.items():
        options = [
            opt
            for param in command.params
            if isinstance(param, click.Option)
            for opt in (*param.opts, *param.secondary_opts)
            if opt.startswith("--")
        ]
        if isinstance(command, click.Group) and not options:
            continue
        entry = entries.get(path, "")
        if not entry:
            missing.append(f"gongshi {path}".strip())
        missing += [
            " ".join(("gongshi", path, opt)).replace("  ", " ")
            for opt in options
            if opt not in entry
        ]
    assert missing == []


class _Recording(dict[str, str]):
    """An empty environment that remembers every name asked of it."""

    def __init__(self) -> None:
        super().__init__()
        self.asked: set[str] = set()

    def get(self, key: str, default: object = None) -> object:  # type: ignore[override]
        self.asked.add(key)
        return super().get(key, default)

    def __getitem__(self, key: str) -> str:
        self.asked.add(key)
        return super().__getitem__(key)

    def __contains__(self, key: object) -> bool:
        self.asked.add(str(key))
        return super().__contains__(key)


def test_the_settings_table_lists_every_variable_the_settings_read(tmp_path: Path) -> None:
    environ = _Recording()
    settings.Settings.from_env(environ, cwd=tmp_path)
    table = re.findall(r"^\| `([A-Z_]+)` \|", _section("The command line"), flags=re.MULTILINE)
    assert sorted(table) == sorted(environ.asked)


def _help_options(path: str) -> set[str]:
    """The long options `gongshi <path> --help` prints."""
    from click.testing import CliRunner

    result = CliRunner().invoke(cli.main, [*path.split(), "--help"], terminal_width=200)
    assert result.exit_code == 0, result.output
    return set(re.findall(r"(?<![\w-])--[a-z][a-z-]*", result.output)) - {"--help"}


def test_the_command_list_says_what_help_says() -> None:
    commands = dict(_commands(cli.main, ""))
    entries = _entries(_section("The command line"), set(commands))
    differ = {}
    for path, entry in entries.items():
        if not path:
            continue
        written = set(re.findall(r"(?<![\w-])--[a-z][a-z-]*", entry))
        if written != _help_options(path):
            differ[path] = sorted(written ^ _help_options(path))
    assert differ == {}
