"""Help text for the console script: docstrings reflowed so the terminal wraps them.

Typer's rich help keeps a docstring's single line breaks, so a paragraph wrapped at 92
columns in the source comes out ragged in a narrower terminal (a full line, then "of the",
then the next full line). `reflow_app` joins the lines of every prose paragraph before Typer
renders them; paragraphs that are laid out on purpose (lists, tables, indented examples,
Click's ``\\b`` no-rewrap marker) keep their lines.
"""

from __future__ import annotations

import inspect
import re

import typer

_LAID_OUT = re.compile(r"^(\s|[-*]\s|[|>]|\d+[.)]\s|\x08)")
"""A line that starts a list item, a table row, a quote, an indented block or ``\\b``."""


def reflow(text: str) -> str:
    """Join the lines of each prose paragraph of ``text`` (paragraphs split at blank lines)."""
    paragraphs = inspect.cleandoc(text).split("\n\n")
    return "\n\n".join(
        para if any(_LAID_OUT.match(line) for line in para.splitlines()) else _join(para)
        for para in paragraphs
    )


def _join(paragraph: str) -> str:
    return " ".join(line.strip() for line in paragraph.splitlines() if line.strip())


def reflow_app(app: typer.Typer) -> None:
    """Reflow the help of ``app``, its commands and its sub-command groups, recursively."""
    if isinstance(app.info.help, str):
        app.info.help = reflow(app.info.help)
    for command in app.registered_commands:
        text = command.help if command.help is not None else inspect.getdoc(command.callback)
        if text:
            command.help = reflow(text)
    for group in app.registered_groups:
        if isinstance(group.help, str):
            group.help = reflow(group.help)
        if group.typer_instance is not None:
            reflow_app(group.typer_instance)
