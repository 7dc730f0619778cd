"""A small per-cell value network: a second kind of learned evaluation, next to the linear
fitted evaluation of `ringrift.ai.fitted`.

The input for seat ``p`` is the board seen from ``p`` and a few global numbers:

* per-cell planes (`Plane`), each ``num_cells`` long, in pairs "mine" / "an opponent's": a
  stack present, its height and its cap height (over `HEIGHT_SCALE`), a marker, a collapsed
  cell (territory). With three or four players every opponent counts as "an opponent" (a
  cell holds one stack, marker or territory, so nothing is summed);
* p's 18 global features relative to its opponents (`relative_features` of `seat_features`,
  see `ringrift.ai.features`);
* whether p is the player to move.

The model is one hidden layer of tanh units and one output logit, plus a linear term in the
global inputs ``g`` (the last part of ``x``), so that it contains the linear fitted model: p
wins with probability ``sigmoid(w2 . tanh(W1 x + b1) + v . g + b2)``. `NetworkEvaluation`
puts that on the hand-written evaluation's scale: ``win_probability(value)`` is the
network's win chance, clamped to ``+-(WIN_SCORE - 1)``, and a finished game scores
``+-WIN_SCORE``, so it drops into any search that takes an `Evaluator`. Inference is numpy
on the CPU; training is in `ringrift.ai.network_training` (``ringrift train net``).

A weights file is JSON: ``format`` ("ringrift-value-net"), ``version``, ``board``,
``players``, ``planes`` and ``features`` (the input's names, in order), ``hidden``,
``activation``, ``parameters`` (their count), ``seed``, ``recipe`` (data and training
settings), ``report`` (log-losses), then the parameters ``w1`` (one row per hidden unit),
``b1``, ``w2``, ``b2`` and ``v``.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ringrift.ai.evaluation import VALUE_SCALE, WIN_SCORE
from ringrift.ai.features import FEATURES, relative_features, seat_features
from ringrift.ai.fitted import check_game, read_json_file
from ringrift.rules import GameState, geometry
from ringrift.rules.geometry import Coord

NETWORK_FORMAT = "ringrift-value-net"
NETWORK_VERSION = 1
HEIGHT_SCALE = 8.0
"""Stack and cap heights are divided by this (a typical tall stack)."""
SIGNIFICANT_DIGITS = 6
"""Saved parameters keep this many significant digits (a small, exact-to-reload file)."""

Array = npt.NDArray[np.float64]


class Plane(StrEnum):
    """The per-cell input planes, in input order: pairs of (mine, an opponent's)."""

    MY_STACK = "my_stack"
    OPP_STACK = "opp_stack"
    MY_HEIGHT = "my_height"
    OPP_HEIGHT = "opp_height"
    MY_CAP = "my_cap"
    OPP_CAP = "opp_cap"
    MY_MARKER = "my_marker"
    OPP_MARKER = "opp_marker"
    MY_TERRITORY = "my_territory"
    OPP_TERRITORY = "opp_territory"


class Activation(StrEnum):
    """The hidden layer's activation (only tanh so far)."""

    TANH = "tanh"


PLANES: tuple[Plane, ...] = tuple(Plane)
TO_MOVE = "to_move"
"""The name of the last input: 1 if the evaluated seat is to move."""
GLOBAL_INPUTS: tuple[str, ...] = (*(f.value for f in FEATURES), TO_MOVE)
"""The inputs after the planes: the relative global features, then `TO_MOVE`."""


def input_size(num_cells: int) -> int:
    return len(PLANES) * num_cells + len(GLOBAL_INPUTS)


def _fill_planes(x: Array, s: GameState, player: int) -> None:
    """Write the per-cell planes of ``s`` seen from ``player`` into the zeros at the start of
    ``x`` (`Plane` order, each plane ``num_cells`` long)."""
    n = s.geo.num_cells
    caps, markers, collapsed = s.caps, s.markers, s.collapsed
    for c, st in enumerate(s.stacks):
        if st is not None:
            side = 0 if st[0] == player else n  # the opponent's plane follows mine
            x[side + c] = 1.0
            x[2 * n + side + c] = len(st) / HEIGHT_SCALE
            x[4 * n + side + c] = caps[c] / HEIGHT_SCALE
        m = markers[c]
        if m:
            x[6 * n + (0 if m == player else n) + c] = 1.0
        o = collapsed[c]
        if o:
            x[8 * n + (0 if o == player else n) + c] = 1.0


def global_inputs(per_seat: list[list[float]], player: int, to_move: int) -> list[float]:
    """The inputs after the planes, from every seat's features (index 0 unused)."""
    return [*relative_features(per_seat, player), 1.0 if to_move == player else 0.0]


def network_input(s: GameState, player: int, per_seat: list[list[float]] | None = None) -> Array:
    """The network's input for ``player`` (``per_seat``: `seat_features` of ``s``, if known)."""
    feats = seat_features(s) if per_seat is None else per_seat
    n = s.geo.num_cells
    x = np.zeros(input_size(n))
    _fill_planes(x, s, player)
    x[len(PLANES) * n :] = global_inputs(feats, player, s.current_player)
    return x


def symmetries(board: str) -> npt.NDArray[np.intp]:
    """The board's symmetries as cell permutations, one row each (the identity first): row
    ``k`` maps cell ``c`` to cell ``perm[k, c]``. The rules treat every direction alike, so a
    position and its image are worth the same; training uses them as extra examples."""
    geo = geometry(board)
    maps: list[tuple[int, ...]] = []
    images: list[Coord]
    for c in geo.coords:
        if geo.is_hex:
            # Cube coordinates: every permutation of (x, y, z), with or without negation.
            x, y, z = c
            images = list(itertools.permutations((x, y, z)))
            images += [tuple(-v for v in i) for i in images]
        else:
            x, y = c
            m = geo.size - 1
            images = [(x, y), (m - x, y), (x, m - y), (m - x, m - y)]
            images += [(b, a) for a, b in images]
        maps.append(tuple(geo.index[i] for i in images))
    return np.array(maps, dtype=np.intp).T


def _rounded(a: Array) -> Array:
    """``a`` with `SIGNIFICANT_DIGITS` significant digits, as saved."""
    return np.array([float(f"{v:.{SIGNIFICANT_DIGITS}g}") for v in a.ravel()]).reshape(a.shape)


@dataclass(frozen=True, eq=False)
class NetworkWeights:
    """A trained value network and where it came from (the content of a weights file)."""

    board: str
    players: int
    w1: Array
    """Hidden x inputs."""
    b1: Array
    w2: Array
    b2: float
    v: Array
    """The linear term's weights, one per global input."""
    seed: int
    recipe: dict[str, Any] = field(default_factory=dict)
    report: dict[str, Any] = field(default_factory=dict)
    activation: Activation = Activation.TANH
    version: int = NETWORK_VERSION

    @property
    def hidden(self) -> int:
        return int(self.w1.shape[0])

    @property
    def inputs(self) -> int:
        return int(self.w1.shape[1])

    def logits(self, x: Array) -> Array:
        """Output logits for a batch of inputs (rows) or one input."""
        hidden = np.tanh(x @ self.w1.T + self.b1)
        return np.asarray(hidden @ self.w2 + x[..., -len(GLOBAL_INPUTS) :] @ self.v + self.b2)

    def rounded(self) -> NetworkWeights:
        """These weights as they are saved (and reloaded): `SIGNIFICANT_DIGITS` digits."""
        return NetworkWeights(
            board=self.board,
            players=self.players,
            w1=_rounded(self.w1),
            b1=_rounded(self.b1),
            w2=_rounded(self.w2),
            b2=float(f"{self.b2:.{SIGNIFICANT_DIGITS}g}"),
            v=_rounded(self.v),
            seed=self.seed,
            recipe=self.recipe,
            report=self.report,
            activation=self.activation,
            version=self.version,
        )

    def header(self) -> dict[str, Any]:
        """Everything but the parameters (what ``--json`` prints)."""
        return {
            "format": NETWORK_FORMAT,
            "version": self.version,
            "board": self.board,
            "players": self.players,
            "planes": [p.value for p in PLANES],
            "features": list(GLOBAL_INPUTS),
            "hidden": self.hidden,
            "activation": self.activation.value,
            "parameters": self.w1.size + self.b1.size + self.w2.size + 1 + self.v.size,
            "seed": self.seed,
            "recipe": self.recipe,
            "report": self.report,
        }

    def to_json(self) -> dict[str, Any]:
        r = self.rounded()
        return {
            **self.header(),
            "w1": r.w1.tolist(),
            "b1": r.b1.tolist(),
            "w2": r.w2.tolist(),
            "b2": r.b2,
            "v": r.v.tolist(),
        }

    @classmethod
    def from_json(cls, data: Any) -> NetworkWeights:
        if not isinstance(data, dict) or data.get("format") != NETWORK_FORMAT:
            raise ValueError(f"not a {NETWORK_FORMAT} file")
        if data.get("version") != NETWORK_VERSION:
            raise ValueError(f"unsupported network version {data.get('version')!r}")
        if data.get("planes") != [p.value for p in PLANES]:
            raise ValueError("the file's input planes differ from this version's")
        if data.get("features") != list(GLOBAL_INPUTS):
            raise ValueError("the file's global features differ from this version's")
        if data.get("activation") not in {a.value for a in Activation}:
            raise ValueError(f"unknown activation {data.get('activation')!r}")
        w1 = np.array(data["w1"], dtype=np.float64)
        b1 = np.array(data["b1"], dtype=np.float64)
        w2 = np.array(data["w2"], dtype=np.float64)
        v = np.array(data["v"], dtype=np.float64)
        h = w1.shape[0] if w1.ndim == 2 else -1
        if b1.shape != (h,) or w2.shape != (h,) or v.shape != (len(GLOBAL_INPUTS),):
            raise ValueError("the parameters' shapes do not fit together")
        if not all(np.isfinite(a).all() for a in (w1, b1, w2, v)):
            raise ValueError("the parameters are not all finite")
        board = str(data["board"])
        if w1.shape[1] != input_size(geometry(board).num_cells):
            raise ValueError(f"w1 has {w1.shape[1]} inputs, not {board}'s")
        return cls(
            board=board,
            players=int(data["players"]),
            w1=w1,
            b1=b1,
            w2=w2,
            b2=float(data["b2"]),
            v=v,
            seed=int(data["seed"]),
            recipe=dict(data.get("recipe", {})),
            report=dict(data.get("report", {})),
            activation=Activation(data["activation"]),
        )

    def save(self, path: Path) -> None:
        """Write the file: the header indented, ``w1`` one row per line."""
        data = self.to_json()
        parts = []
        for key, value in data.items():
            if key == "w1":
                rows = ",\n    ".join(json.dumps(row, separators=(",", ":")) for row in value)
                text = f"[\n    {rows}\n  ]"
            elif key in ("b1", "w2", "v"):
                text = json.dumps(value, separators=(",", ":"))
            else:
                text = json.dumps(value, indent=2).replace("\n", "\n  ")
            parts.append(f"  {json.dumps(key)}: {text}")
        Path(path).write_text("{\n" + ",\n".join(parts) + "\n}\n")

    @classmethod
    def load(cls, path: Path) -> NetworkWeights:
        return cls.parse(read_json_file(path, "network"), path)

    @classmethod
    def parse(cls, data: Any, path: Path) -> NetworkWeights:
        """`from_json` of the content of the file at ``path``, with errors naming the file."""
        try:
            return cls.from_json(data)
        except (KeyError, TypeError) as error:
            raise ValueError(f"malformed network file {path}: {error}") from None


class NetworkEvaluation:
    """Evaluate positions with a value network, on the hand-written evaluation's scale:
    ``win_probability(evaluate(s, p))`` is the network's win chance for ``p``."""

    def __init__(self, weights: NetworkWeights) -> None:
        self.weights = weights
        # `NetworkWeights.logits` for one input, with the layout a vector-matrix product likes.
        self._w1t = np.ascontiguousarray(weights.w1.T)
        self._b1, self._w2, self._v, self._b2 = weights.b1, weights.w2, weights.v, weights.b2
        self._first_global = weights.inputs - len(GLOBAL_INPUTS)

    def __call__(self, s: GameState, player: int) -> float:
        return self.evaluate(s, player)

    def logit(self, x: Array) -> float:
        """The output logit for one input."""
        hidden = np.tanh(x @ self._w1t + self._b1)
        return float(hidden @ self._w2 + x[self._first_global :] @ self._v) + self._b2

    def evaluate(self, s: GameState, player: int) -> float:
        if s.game_status != "active":
            return WIN_SCORE if s.winner == player else -WIN_SCORE
        z = self.logit(network_input(s, player))
        return max(-WIN_SCORE + 1, min(WIN_SCORE - 1, z * VALUE_SCALE))


def load_network_evaluator(
    path: Path, *, board: str | None = None, players: int | None = None
) -> NetworkEvaluation:
    """Load a network file; with ``board``/``players``, refuse one trained for another game."""
    return network_evaluation(NetworkWeights.load(path), path, board=board, players=players)


def network_evaluation(
    weights: NetworkWeights, path: Path, *, board: str | None = None, players: int | None = None
) -> NetworkEvaluation:
    """The evaluation of a network read from ``path``, refused when trained for another game."""
    check_game(path, "trained", weights.board, weights.players, board=board, players=players)
    return NetworkEvaluation(weights)
