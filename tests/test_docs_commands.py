"""The shell commands in the README, docs/ and export/README.md name only subcommands and
flags that exist: each one is parsed by the real argparse parser, so a renamed or removed
flag fails here and not in a user's terminal."""

import contextlib
import io
import re
import shlex

import pytest
from conftest import ROOT

from tfs2s.cli import build_parser

DOCS = [
    "README.md",
    "export/README.md",
    *sorted(str(p.relative_to(ROOT)) for p in (ROOT / "docs").rglob("*.md")),
]
SHELL_FENCES = {"bash", "sh", "shell", "console"}
#: How a documented program maps onto ``tfs2s``'s parser (the scripts are thin wrappers).
PROGRAMS = {
    ("python", "train.py"): ["train"],
    ("python", "export/export.py"): ["export"],
    ("python", "export/make_models_config.py"): ["models-config"],
    ("python", "-m", "tfs2s.cli"): [],
    ("tfs2s",): [],
}


def shell_blocks(text: str):
    """The bodies of the fenced ``bash``/``sh`` blocks of a markdown text."""
    for match in re.finditer(r"^```(\w*)\n(.*?)^```", text, flags=re.M | re.S):
        if match.group(1) in SHELL_FENCES:
            yield match.group(2)


def commands(block: str):
    """Simple commands of a shell block: continuations joined, heredoc bodies and
    comments dropped, split at ``&&``, ``||``, ``;`` and ``|``."""
    lines, heredoc = [], None
    for line in block.replace("\\\n", " ").splitlines():
        if heredoc is not None:
            if line.strip() == heredoc:
                heredoc = None
            continue
        here = re.search(r"<<-?\s*'?\"?(\w+)'?\"?", line)
        if here:
            heredoc = here.group(1)
            line = line[: here.start()]
        lines.append(line)
    pending = ""
    for line in lines:
        pending += line + " "
        try:
            tokens = shlex.split(pending, comments=True)
        except ValueError:  # a quoted string spans lines (TF_CONFIG='{...}')
            continue
        pending = ""
        command = []
        for token in [*tokens, ";"]:
            if token in ("&&", "||", ";", "|"):
                if command:
                    yield command
                command = []
            else:
                command.append(token)


def tfs2s_argv(command):
    """``tfs2s`` parser arguments of a documented command, or None for other programs."""
    while command and re.match(r"^[A-Z_][A-Z0-9_]*=", command[0]):
        command = command[1:]  # environment assignments
    for prefix, sub in PROGRAMS.items():
        if tuple(command[: len(prefix)]) == prefix:
            argv = sub + command[len(prefix) :]
            # stop at a redirection: "> payload.json"
            for i, token in enumerate(argv):
                if token.startswith((">", "<", "2>")):
                    return argv[:i]
            return argv
    return None


def documented_commands():
    found = []
    for doc in DOCS:
        for block in shell_blocks((ROOT / doc).read_text()):
            for command in commands(block):
                argv = tfs2s_argv(command)
                if argv is not None:
                    found.append(pytest.param(argv, id=f"{doc}: {' '.join(command)}"[:120]))
    return found


def option_strings(parser, argv):
    """Every option string of ``parser`` and of the subcommands ``argv`` selects."""
    options = set()
    while True:
        options.update(s for a in parser._actions for s in a.option_strings)
        subs = [a for a in parser._actions if a.choices and hasattr(a, "add_parser")]
        nxt = next((t for t in argv if not t.startswith("-")), None)
        if not subs or nxt is None or nxt not in subs[0].choices:
            return options
        parser = subs[0].choices[nxt]
        argv = argv[argv.index(nxt) + 1 :]


COMMANDS = documented_commands()


def test_the_docs_show_every_command_line_tool():
    shown = {" ".join(p.values[0][:1]) for p in COMMANDS}
    assert {"train", "export", "models-config", "data", "experiments", "tune"} <= shown
    assert len(COMMANDS) >= 20


@pytest.mark.parametrize("argv", COMMANDS)
def test_a_documented_command_parses(argv):
    parser = build_parser()
    with (
        contextlib.redirect_stdout(io.StringIO()),
        contextlib.redirect_stderr(io.StringIO()) as err,
    ):
        try:
            parser.parse_args(argv)
        except SystemExit as e:
            assert e.code == 0, err.getvalue()  # --help exits 0
    # argparse accepts abbreviations; the docs must spell every flag in full.
    known = option_strings(parser, argv)
    flags = {t.split("=", 1)[0] for t in argv if t.startswith("--")}
    assert flags <= known, f"unknown flags {sorted(flags - known)}"
