"""Per-seat feature vectors for learning an evaluation from self-play.

The first ten features are exactly the terms the hand-written evaluation weighs (one per
`Weights` field, in field order), so a linear model over them can express the default
evaluation. The rest cover what that evaluation does not see:

* last-player-standing pressure: whether the seat has any real action (placement, move or
  capture), rings in hand and on the board, stacks that can still move, and the seat's
  progress towards a last-player-standing win;
* forced-elimination exposure: controlled stacks that cannot move, and the "stuck" flag of a
  seat that controls stacks but has no real action (it must eliminate a cap);
* territory threats: cells of disconnected regions (at most half the board) in which the seat
  has no stack, i.e. pockets it could collapse into its own territory.

`relative_features` turns the per-seat vectors into the model input: a seat's features minus
the mean of its opponents' features.
"""

from __future__ import annotations

import dataclasses
from enum import StrEnum

from ringrift.ai.evaluation import Weights, board_counts
from ringrift.rules import GameState
from ringrift.rules.board import can_reach, has_any_placement, region_masks


class Feature(StrEnum):
    """Feature names, in vector order."""

    ELIMINATED = "eliminated"
    ELIMINATED_CURVE = "eliminated_curve"
    TERRITORY = "territory"
    TERRITORY_CURVE = "territory_curve"
    MATERIAL = "material"
    STACKS = "stacks"
    CAPS = "caps"
    MARKERS = "markers"
    LINES = "lines"
    THREATS = "threats"
    REAL_ACTION = "real_action"
    HAND = "hand"
    ON_BOARD = "on_board"
    MOBILE_STACKS = "mobile_stacks"
    IMMOBILE_STACKS = "immobile_stacks"
    STUCK = "stuck"
    LPS_PRESSURE = "lps_pressure"
    TERRITORY_THREAT = "territory_threat"


FEATURES: tuple[Feature, ...] = tuple(Feature)
BASE_FEATURES: tuple[Feature, ...] = FEATURES[:10]
"""The features of the hand-written evaluation, in `Weights` field order."""

assert [f.value for f in BASE_FEATURES] == [f.name for f in dataclasses.fields(Weights)]


def base_features(s: GameState) -> list[list[float]]:
    """The hand-written evaluation's terms per seat (index 0 unused), unweighted."""
    n = s.num_players
    ctrl, capsum, mk, terr, threat, lines = board_counts(s)
    rpp = max(1, s.rings_per_player)
    vt = max(1, s.victory_threshold)
    tmin = max(1, s.territory_minimum)
    norm_lines = float(max(1, (s.line_len - 1) ** 2)) * 4.0
    out: list[list[float]] = [[]]
    for q in range(1, n + 1):
        xe = s.eliminated[q] / vt
        xt = terr[q] / tmin
        out.append(
            [
                xe,
                xe**3,
                xt,
                xt**3,
                (s.hand[q] + s.on_board[q]) / rpp,
                ctrl[q] / rpp,
                capsum[q] / rpp,
                mk[q] / rpp,
                lines[q] / norm_lines,
                threat[q] / rpp,
            ]
        )
    return out


def pressure_features(s: GameState) -> list[list[float]]:
    """The last-player-standing, forced-elimination and territory-threat features per seat
    (index 0 unused), in `FEATURES` order after the base features."""
    n = s.num_players
    rpp = max(1, s.rings_per_player)
    tmin = max(1, s.territory_minimum)
    mobile = [0] * (n + 1)
    immobile = [0] * (n + 1)
    for cell, st in enumerate(s.stacks):
        if st is None:
            continue
        if can_reach(s, cell, len(st), s.caps[cell]):
            mobile[st[0]] += 1
        else:
            immobile[st[0]] += 1
    threat = [0] * (n + 1)
    half = s.geo.num_cells // 2
    regions = region_masks(s)
    for region in regions.regions:
        size = region.bit_count()
        if size > half:
            continue  # the main body of the board, not a pocket about to be cut off
        for q in range(1, n + 1):
            if not region & regions.control[q]:  # q has no stack in it
                threat[q] += size
    out: list[list[float]] = [[]]
    for q in range(1, n + 1):
        # R172's real action, from the mobility counted above: a stack that can move or
        # capture, else a placement (what `has_real_action` checks, without a second scan).
        acts = s.in_play(q) and (mobile[q] > 0 or (s.hand[q] > 0 and has_any_placement(s, q)))
        lps = s.lps_streak / max(1, s.lps_required) if s.lps_holder == q else 0.0
        out.append(
            [
                1.0 if acts else 0.0,
                s.hand[q] / rpp,
                s.on_board[q] / rpp,
                mobile[q] / rpp,
                immobile[q] / rpp,
                1.0 if (mobile[q] + immobile[q]) and not acts else 0.0,
                lps,
                threat[q] / tmin,
            ]
        )
    return out


def seat_features(s: GameState) -> list[list[float]]:
    """Every feature per seat (index 0 unused), in `FEATURES` order."""
    base = base_features(s)
    extra = pressure_features(s)
    return [[]] + [base[q] + extra[q] for q in range(1, s.num_players + 1)]


def relative_features(per_seat: list[list[float]], seat: int) -> list[float]:
    """A seat's features minus the mean of its opponents' (per_seat is indexed by seat, with
    index 0 unused)."""
    others = [v for q, v in enumerate(per_seat) if q and q != seat]
    k = len(per_seat[seat])
    return [per_seat[seat][i] - sum(o[i] for o in others) / len(others) for i in range(k)]
