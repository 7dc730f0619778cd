"""The console script: its help reads as prose at any terminal width, and it starts without
loading what only one command needs."""

from __future__ import annotations

import subprocess
import sys
from itertools import pairwise

import pytest
from typer.testing import CliRunner

from ringrift.cli import app
from ringrift.cli_help import reflow


def test_reflow_joins_prose_and_keeps_laid_out_paragraphs() -> None:
    text = """First line
    goes on here.

    A second paragraph
    --with a flag at a line start.

    - a list item
    - another

    Usage:
        ringrift up
    """
    assert reflow(text) == (
        "First line goes on here.\n\n"
        "A second paragraph --with a flag at a line start.\n\n"
        "- a list item\n- another\n\n"
        "Usage:\n    ringrift up"
    )


@pytest.mark.parametrize("command", [["arena", "ladder"], ["selfplay"]])
def test_help_lines_are_not_ragged_in_a_narrow_terminal(command: list[str]) -> None:
    width = 80
    result = CliRunner().invoke(app, [*command, "--help"], env={"COLUMNS": str(width)})
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    for line, following in pairwise(lines):
        # Inside a paragraph (the next line goes on with it) a line is filled to the width;
        # a docstring's own line break shows as a short line followed by more of the text.
        text = line.strip(" │")
        goes_on = following.strip(" │") and not following.lstrip(" │").startswith(("-", "╰"))
        if text and goes_on and not text.startswith(("╭", "Usage", "-")):
            assert len(line.rstrip()) > width - 30, f"ragged help line: {line!r}"


@pytest.mark.parametrize("module", ["numpy", "sqlalchemy", "fastapi"])
def test_the_console_script_starts_without_heavy_libraries(module: str) -> None:
    # numpy is for `ringrift train net`, SQLAlchemy and FastAPI for the commands that serve or
    # touch a database; `ringrift --help` and the AI commands should not pay for them (together
    # they took `ringrift --help` from 0.5 s to 2.1 s).
    probe = f"import sys, ringrift.cli; print({module!r} in sys.modules)"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
