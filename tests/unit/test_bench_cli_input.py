"""``bench replay`` refuses a board or player count it cannot play before it starts anything."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from ringrift.cli import app as cli


@pytest.mark.parametrize(
    "bad", [["--board", "chess"], ["--players", "5"], ["--players", "1"], ["--moves", "3"]]
)
def test_bench_replay_rejects_bad_options(bad: list[str]) -> None:
    result = CliRunner().invoke(cli, ["bench", "replay", *bad, "--json"])
    assert result.exit_code == 2, result.output
    assert result.stdout == ""  # no report: nothing was measured
