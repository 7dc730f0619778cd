"""Self-play data: seeded games between copies of one ladder level, stored as gzip JSONL shards.

A run writes into one directory:

* ``manifest.json``: the run's recipe (board, players, level, seed, node limit, sampling,
  shard size, feature names, format version). A rerun with a different recipe is refused.
* ``games-AAAAAA-BBBBBB.jsonl.gz``: games ``AAAAAA`` to ``BBBBBB - 1``, one JSON object per
  line, in game order. A shard is written to a temporary name and renamed when complete, so
  a shard either exists whole or not at all: rerunning the same command plays only the games
  of missing shards (that is how an interrupted run resumes).

Everything is determined by the seed: search is bounded by a node limit (never by the clock),
every decision gets a seed derived from the game's, and the gzip header carries no time stamp,
so two runs with the same recipe write byte-identical shards.
"""

from __future__ import annotations

import gzip
import json
import os
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ringrift.ai.arena import DEFAULT_MOVE_CAP, validate_game
from ringrift.ai.features import FEATURES, seat_features
from ringrift.ai.ladder import check_level, player_for_level
from ringrift.rules import apply_move, legal_moves, new_game

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
SHARD_PREFIX = "games-"
SHARD_SUFFIX = ".jsonl.gz"
MOVE_CAP_REASON = "move_cap"
"""End reason recorded for a game stopped at the move cap (a draw, no ranks)."""


@dataclass(frozen=True)
class SelfPlayConfig:
    """The recipe of a self-play run (everything that decides the games' content)."""

    board: str
    players: int
    games: int
    level: int
    seed: int = 0
    node_limit: int = 5000
    sample_every: int = 4
    shard_size: int = 25
    move_cap: int = DEFAULT_MOVE_CAP

    def validate(self) -> None:
        validate_game(self.board, self.players)
        if self.games < 1:
            raise ValueError(f"games must be at least 1, got {self.games}")
        check_level(self.level)
        for name in ("node_limit", "sample_every", "shard_size", "move_cap"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name.replace('_', '-')} must be at least 1")

    def recipe(self) -> dict[str, Any]:
        """The manifest: the recipe minus the game count (a run may be extended), plus the
        format version and the feature names."""
        data = asdict(self)
        del data["games"]
        data["version"] = FORMAT_VERSION
        data["features"] = [f.value for f in FEATURES]
        return data

    def shards(self) -> list[tuple[int, int]]:
        """Half-open game ranges, one per shard."""
        size = self.shard_size
        return [(a, min(a + size, self.games)) for a in range(0, self.games, size)]


def shard_name(start: int, end: int) -> str:
    return f"{SHARD_PREFIX}{start:06d}-{end:06d}{SHARD_SUFFIX}"


def game_seed(seed: int, index: int) -> int:
    return seed * 1_000_003 + index


def play_selfplay_game(job: tuple[SelfPlayConfig, int]) -> dict[str, Any]:
    """Play game ``index`` of a run and return its record."""
    cfg, index = job
    gseed = game_seed(cfg.seed, index)
    player = player_for_level(cfg.level)
    state = new_game(cfg.board, cfg.players)
    offset = gseed % cfg.sample_every
    moves: list[dict[str, Any]] = []
    positions: list[dict[str, Any]] = []
    ply = 0
    while state.game_status == "active" and ply < cfg.move_cap:
        if ply % cfg.sample_every == offset:
            feats = [[round(x, 6) for x in v] for v in seat_features(state)[1:]]
            positions.append({"ply": ply, "toMove": state.current_player, "features": feats})
        legal = legal_moves(state)
        if len(legal) == 1:
            move = legal[0]
        else:
            decision = player.decide(
                state, seed=gseed * 4099 + ply, budget_s=None, node_limit=cfg.node_limit
            )
            move = decision.move
        moves.append(move.to_json())
        state = apply_move(state, move)
        ply += 1
    finished = state.game_status != "active"
    return {
        "index": index,
        "seed": gseed,
        "board": cfg.board,
        "players": cfg.players,
        "level": cfg.level,
        "moves": moves,
        "plies": ply,
        "winner": state.winner if finished else None,
        "ranks": state.final_ranks() if finished else None,
        "victoryReason": (state.victory_reason or "unknown") if finished else MOVE_CAP_REASON,
        "positions": positions,
    }


def write_shard(path: Path, records: list[dict[str, Any]]) -> None:
    """Write records atomically (temporary file, then rename) with a time-stamp-free header."""
    tmp = path.with_name(path.name + ".tmp")
    with (
        open(tmp, "wb") as raw,
        gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as gz,
    ):
        for rec in records:
            gz.write((json.dumps(rec, separators=(",", ":"), sort_keys=True) + "\n").encode())
    os.replace(tmp, path)


def read_shard(path: Path) -> list[dict[str, Any]]:
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def read_games(directory: Path) -> Iterator[dict[str, Any]]:
    """Every game record of a run directory, in shard order, each game once (a run extended
    to more games may hold an older, shorter last shard alongside the new ones)."""
    seen: set[int] = set()
    for path in sorted(directory.glob(f"{SHARD_PREFIX}*{SHARD_SUFFIX}")):
        for rec in read_shard(path):
            if rec["index"] not in seen:
                seen.add(rec["index"])
                yield rec


def read_manifest(directory: Path) -> dict[str, Any]:
    path = directory / MANIFEST
    if not path.is_file():
        raise ValueError(f"{directory} has no {MANIFEST}: not a self-play directory")
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def prepare(cfg: SelfPlayConfig, out: Path) -> list[tuple[int, int]]:
    """Validate, create the directory and manifest (or check it matches) and return the game
    ranges whose shards are still missing."""
    cfg.validate()
    if out.exists() and not out.is_dir():
        raise ValueError(f"{out} exists and is not a directory")
    out.mkdir(parents=True, exist_ok=True)
    recipe = cfg.recipe()
    manifest = out / MANIFEST
    if manifest.is_file():
        old = json.loads(manifest.read_text())
        if old != recipe:
            diff = sorted(k for k in set(old) | set(recipe) if old.get(k) != recipe.get(k))
            raise ValueError(
                f"{out} holds a run with a different recipe ({', '.join(diff)}): "
                "use another --out or the same options"
            )
    else:
        manifest.write_text(json.dumps(recipe, indent=2, sort_keys=True) + "\n")
    return [(a, b) for a, b in cfg.shards() if not (out / shard_name(a, b)).is_file()]


@dataclass(frozen=True)
class RunSummary:
    out: str
    games: int
    played: int
    skipped: int
    shards_written: int
    end_reasons: dict[str, int]
    positions: int

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def run_selfplay(
    cfg: SelfPlayConfig,
    out: Path,
    *,
    workers: int = 2,
    on_game: Callable[[dict[str, Any]], None] | None = None,
) -> RunSummary:
    """Play the games of every missing shard (in ``workers`` processes when > 1), writing each
    shard as soon as its games are done."""
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    missing = prepare(cfg, out)
    jobs = [(cfg, i) for a, b in missing for i in range(a, b)]
    pending: dict[tuple[int, int], dict[int, dict[str, Any]]] = {r: {} for r in missing}
    reasons: dict[str, int] = {}
    positions = 0
    written = 0
    for rec in _records(jobs, workers):
        i = rec["index"]
        key = next(r for r in missing if r[0] <= i < r[1])
        pending[key][i] = rec
        reasons[rec["victoryReason"]] = reasons.get(rec["victoryReason"], 0) + 1
        positions += len(rec["positions"])
        if len(pending[key]) == key[1] - key[0]:
            write_shard(out / shard_name(*key), [pending[key][j] for j in sorted(pending[key])])
            del pending[key]
            written += 1
        if on_game is not None:
            on_game(rec)
    return RunSummary(
        str(out),
        cfg.games,
        len(jobs),
        cfg.games - len(jobs),
        written,
        dict(sorted(reasons.items())),
        positions,
    )


def _records(jobs: list[tuple[SelfPlayConfig, int]], workers: int) -> Iterator[dict[str, Any]]:
    if workers == 1 or len(jobs) <= 1:
        for job in jobs:
            yield play_selfplay_game(job)
        return
    with ProcessPoolExecutor(max_workers=min(workers, len(jobs))) as pool:
        yield from pool.map(play_selfplay_game, jobs)
