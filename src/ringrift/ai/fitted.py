"""Fitted evaluation weights: the versioned weights file, an evaluator built from it, and
how a player is given that evaluator (``ringrift arena --eval-a FILE``).

A weights file is JSON: ``format`` ("ringrift-eval-weights"), ``version``, ``board``,
``players``, ``features`` (names, see `ringrift.ai.features.Feature`), ``weights`` (one per
feature), ``seed``, ``recipe`` (the data and fit settings) and ``report`` (the log-losses the
fit measured) and ``model``, one of `Model`:

* ``opponents-mean`` (the default, and what a file without ``model`` holds): seat ``q`` wins
  with probability ``sigmoid(w . x)``, where ``x`` is q's feature vector minus the mean of its
  opponents';
* ``softmax``: every seat has a score ``z_q = w . x_q`` of its own features, and the winner is a
  softmax over the seats (a conditional logit). A seat is evaluated as ``z_q`` minus the
  log-sum-exp of its opponents' scores: a smooth "minus the best opponent", the shape of the
  hand-written evaluation, which the mean of the opponents dilutes with four players;
* ``best-opponent``: ``z_q`` minus the best opponent's score, exactly the shape of the
  hand-written evaluation, which is this model with its weights divided by ``VALUE_SCALE``
  and zero for the features it lacks. Tuned by play (`ringrift.ai.tuning`), not fitted.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import operator
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from ringrift.ai.alphabeta import AlphaBetaPlayer
from ringrift.ai.base import Player
from ringrift.ai.evaluation import VALUE_SCALE, WIN_SCORE, Evaluator, evaluate
from ringrift.ai.features import FEATURES, seat_features
from ringrift.ai.players import ErringPlayer, HeuristicPlayer
from ringrift.rules import BOARD_TYPES, GameState

WEIGHTS_FORMAT = "ringrift-eval-weights"
WEIGHTS_VERSION = 1


class Model(StrEnum):
    """How a weights file's linear scores become an evaluation (module docstring)."""

    OPPONENTS_MEAN = "opponents-mean"
    SOFTMAX = "softmax"
    BEST_OPPONENT = "best-opponent"


WEIGHTS_DIR = Path(__file__).parent / "weights"
"""Where the weights files that ship with the package live, one per board and player count."""
SHIPPED = "shipped"
"""The name that stands for the shipped file of the match's board and player count."""
HANDWRITTEN = "hand"
"""The name that stands for the hand-written evaluation (`ringrift.ai.evaluation.evaluate`)."""


def shipped_weights_path(board: str, players: int) -> Path:
    """The shipped weights file for a board and player count (it may not exist)."""
    return WEIGHTS_DIR / f"{board}-{players}p.json"


def shipped_weights_files() -> list[Path]:
    """Every shipped weights file."""
    return sorted(WEIGHTS_DIR.glob("*.json"))


def resolve_weights_path(path: Path, *, board: str, players: int) -> Path:
    """``path`` itself, or for the name ``shipped`` the shipped file of the game; a
    ValueError when nothing is shipped for it."""
    if str(path) != SHIPPED:
        return path
    shipped = shipped_weights_path(board, players)
    if not shipped.is_file():
        names = ", ".join(f.stem for f in shipped_weights_files()) or "none"
        raise ValueError(
            f"no shipped weights for {board} with {players} players (shipped: {names})"
        )
    return shipped


def read_json_file(path: Path, kind: str) -> Any:
    """The parsed content of a JSON file; a ValueError naming the ``kind`` of file (weights,
    network) when it cannot be read or parsed."""
    try:
        return json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise ValueError(f"cannot read {kind} file {path}: {error}") from None


def sigmoid(z: float) -> float:
    """The logistic function, without overflow for large ``|z|``."""
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


def logsumexp(values: Sequence[float]) -> float:
    """``log(sum(exp(v)))`` without overflow."""
    top = max(values)
    return top + math.log(sum(math.exp(v - top) for v in values))


def softmax_logit(scores: Sequence[float], index: int) -> float:
    """``scores[index]`` minus the log-sum-exp of the other scores: the log-odds of that seat
    winning against the field under a softmax over the seats."""
    return scores[index] - logsumexp([z for i, z in enumerate(scores) if i != index])


def dot(w: Sequence[float], x: Sequence[float]) -> float:
    """The dot product of two vectors of equal length (callers guarantee the length)."""
    return sum(map(operator.mul, w, x))


@dataclass(frozen=True)
class EvalWeights:
    """A fitted linear evaluation and where it came from (the content of a weights file)."""

    board: str
    players: int
    features: tuple[str, ...]
    weights: tuple[float, ...]
    seed: int
    recipe: dict[str, Any]
    report: dict[str, Any]
    version: int = WEIGHTS_VERSION
    model: Model = Model.OPPONENTS_MEAN

    def to_json(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["format"] = WEIGHTS_FORMAT
        data["features"] = list(self.features)
        data["weights"] = list(self.weights)
        data["model"] = self.model.value
        return data

    @classmethod
    def from_json(cls, data: Any) -> EvalWeights:
        if not isinstance(data, dict) or data.get("format") != WEIGHTS_FORMAT:
            raise ValueError(f"not a {WEIGHTS_FORMAT} file")
        if data.get("version") != WEIGHTS_VERSION:
            raise ValueError(f"unsupported weights version {data.get('version')!r}")
        features = tuple(str(f) for f in data["features"])
        weights = tuple(float(w) for w in data["weights"])
        if len(features) != len(weights):
            raise ValueError("features and weights differ in length")
        unknown = sorted(set(features) - {f.value for f in FEATURES})
        if unknown:
            raise ValueError(f"unknown features in weights file: {', '.join(unknown)}")
        model = data.get("model", Model.OPPONENTS_MEAN.value)
        if model not in {m.value for m in Model}:
            raise ValueError(f"unknown model {model!r} in weights file")
        return cls(
            board=str(data["board"]),
            players=int(data["players"]),
            features=features,
            weights=weights,
            seed=int(data["seed"]),
            recipe=dict(data.get("recipe", {})),
            report=dict(data.get("report", {})),
            model=Model(model),
        )

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_json(), indent=2) + "\n")

    @classmethod
    def load(cls, path: Path) -> EvalWeights:
        return cls.parse(read_json_file(path, "weights"), path)

    @classmethod
    def parse(cls, data: Any, path: Path) -> EvalWeights:
        """`from_json` of the content of the file at ``path``, with errors naming the file."""
        try:
            return cls.from_json(data)
        except (KeyError, TypeError) as error:
            raise ValueError(f"malformed weights file {path}: {error}") from None


class FittedEvaluation:
    """Evaluate positions with fitted weights, on the hand-written evaluation's scale:
    ``win_probability(evaluate(s, p))`` is the model's win chance for ``p``."""

    def __init__(self, weights: EvalWeights) -> None:
        order = {f.value: i for i, f in enumerate(FEATURES)}
        self.coef = [0.0] * len(FEATURES)
        for name, w in zip(weights.features, weights.weights, strict=True):
            self.coef[order[name]] = w
        self.weights = weights

    def __call__(self, s: GameState, player: int) -> float:
        return self.evaluate(s, player)

    def evaluate(self, s: GameState, player: int) -> float:
        if s.game_status != "active":
            return WIN_SCORE if s.winner == player else -WIN_SCORE
        # Every model starts from one linear score per seat, z_q = w . x_q.
        scores = [dot(self.coef, v) for v in seat_features(s)[1:]]
        mine = scores[player - 1]
        if self.weights.model == Model.SOFTMAX:
            z = softmax_logit(scores, player - 1)
        elif self.weights.model == Model.BEST_OPPONENT:
            z = mine - max(v for q, v in enumerate(scores) if q != player - 1)
        else:
            # w . (x_p - mean of the opponents' x), from the per-seat scores.
            z = mine - (sum(scores) - mine) / (len(scores) - 1)
        return max(-WIN_SCORE + 1, min(WIN_SCORE - 1, z * VALUE_SCALE))


@functools.cache
def shipped_evaluator(board: str, players: int) -> FittedEvaluation | None:
    """The evaluation of the weights shipped for a board and player count (loaded once per
    process), or None when nothing is shipped for that game."""
    path = shipped_weights_path(board, players)
    return FittedEvaluation(EvalWeights.load(path)) if path.is_file() else None


SEARCH_PLAYER_COUNTS = frozenset({2})
"""Player counts whose shipped weights `LearnedEvaluation` searches with: where they beat the
hand-written evaluation inside the level-8 search at equal time (square8 and hex8 two-player:
0.61 and 0.80 over 200 games). With three players they lost there (rank scores 0.35 on square8
and 0.46 on hex8, 99 games at 0.125 s a move), and the four-player files tuned by play did not
clearly win there (0.49 on square8 over 100 games, 0.56 [0.49, 0.63] on hex8 over 200), though
all of them win as a one-ply evaluation."""

SEARCH_GAMES = frozenset((b, n) for b in BOARD_TYPES for n in SEARCH_PLAYER_COUNTS)
"""`SEARCH_PLAYER_COUNTS` on every board, as the (board, players) pairs `LearnedEvaluation`
takes."""

TURN_GAMES = frozenset({("square8", 3), ("square8", 4)})
"""Games (board, players) whose shipped weights level 5 searches with. Its depth-2 search
covers the mover's own turn and no reply, the setting in which the three- and four-player files
win (0.59-0.67 at level 4). On square8 at 0.1 s a move level 5 with them scored rank 0.74 (3p)
and 0.72 (4p) against level 4, where the hand-written evaluation scored 0.59 and 0.61, and
level 6 still beat it (0.67 and 0.63). On hex8 level 6 no longer did (0.51 and 0.55), so hex8
keeps the hand-written evaluation; two-player games keep the ladder measured at full budgets."""


class LearnedEvaluation:
    """The ladder's learned evaluation: the shipped fitted evaluation of the position's board
    and player count where it pays, and the hand-written `evaluate` for every other game (the
    fallback the issue keeps). Both are on the same scale, so a search can use either.

    Where it pays: the (board, players) pairs of ``games``, by default `SEARCH_GAMES` (a deep
    search), `TURN_GAMES` for level 5."""

    def __init__(self, games: frozenset[tuple[str, int]] = SEARCH_GAMES) -> None:
        self.games = games

    def pays(self, board: str, players: int) -> bool:
        """Whether this evaluation uses the shipped file of the game (when one ships)."""
        return (board, players) in self.games

    def __call__(self, s: GameState, player: int) -> float:
        fitted = (
            shipped_evaluator(s.board_type, s.num_players)
            if self.pays(s.board_type, s.num_players)
            else None
        )
        return evaluate(s, player) if fitted is None else fitted.evaluate(s, player)


def with_evaluator(player: Player, evaluator: Evaluator | None) -> Player:
    """Give a heuristic or alpha-beta player (also behind `ErringPlayer`) the evaluator in
    place of its own (None: the hand-written evaluation); other players have no evaluation
    to replace."""
    target = player.inner if isinstance(player, ErringPlayer) else player
    if not isinstance(target, HeuristicPlayer | AlphaBetaPlayer):
        raise ValueError(f"player {player.name!r} does not use an evaluation to replace")
    target.evaluator = evaluator
    return player


def load_evaluator(
    path: Path, *, board: str | None = None, players: int | None = None
) -> FittedEvaluation:
    """Load a weights file; with ``board``/``players``, refuse weights fitted for another game."""
    return fitted_evaluation(EvalWeights.load(path), path, board=board, players=players)


def fitted_evaluation(
    weights: EvalWeights, path: Path, *, board: str | None = None, players: int | None = None
) -> FittedEvaluation:
    """The evaluation of weights read from ``path``, refused when fitted for another game."""
    check_game(path, "fitted", weights.board, weights.players, board=board, players=players)
    return FittedEvaluation(weights)


def check_game(
    path: Path,
    made: str,
    file_board: str,
    file_players: int,
    *,
    board: str | None,
    players: int | None,
) -> None:
    """Refuse a file ``made`` (fitted, trained) for another board or player count."""
    if board is not None and file_board != board:
        raise ValueError(f"{path} was {made} on {file_board}, not {board}")
    if players is not None and file_players != players:
        raise ValueError(f"{path} was {made} for {file_players} players, not {players}")


def load_any_evaluator(
    path: Path, *, board: str | None = None, players: int | None = None
) -> Evaluator:
    """`load_evaluator`, or for a value network file (`ringrift.ai.network`, told apart by
    its ``format`` field) that network's evaluation. The file is read once."""
    from ringrift.ai.network import NETWORK_FORMAT, NetworkWeights, network_evaluation

    data = read_json_file(path, "weights")
    if isinstance(data, dict) and data.get("format") == NETWORK_FORMAT:
        weights = NetworkWeights.parse(data, path)
        return network_evaluation(weights, path, board=board, players=players)
    return fitted_evaluation(EvalWeights.parse(data, path), path, board=board, players=players)
