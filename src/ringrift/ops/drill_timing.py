"""Drill timing: the rules of ``deploy/prometheus/rules`` rewritten for the local stack's
Prometheus so that a drill's fault fires its alert in seconds and the alert resolves in seconds
after recovery.

Production waits a minute or more before an alert fires (``for: 1m``) and judges counters over
minutes (``rate(ringrift_db_unavailable_total[2m]) > 0`` stays true two minutes after the last
refused request). A drill that had to hold every fault for a minute and then wait two minutes
for the alert to clear would take most of an hour for the whole set. The rewritten copy keeps
every expression, label and annotation, and only caps durations:

* ``for:`` to :attr:`DrillTiming.for_cap` (a condition must still hold over several
  evaluations, so a single bad sample does not fire),
* each range window ``[d]`` of an expression to :attr:`DrillTiming.range_cap` (still several
  scrapes long, so ``rate`` has the samples it needs).

The files in the repository, which production loads, are never modified.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import yaml

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_UNITS["y"] = 365 * _UNITS["d"]
_DURATION = re.compile(r"(?:\d+(?:ms|s|m|h|d|w|y))+")
_PART = re.compile(r"(\d+)(ms|s|m|h|d|w|y)")
# A plain range selector, ``metric[2m]``; subqueries (``[5m:1m]``) have a colon and are left
# alone (the rules have none).
_RANGE = re.compile(r"\[(" + _DURATION.pattern + r")\]")
# PromQL string literals (label values, regexes): never rewritten.
_STRING = re.compile(r"\"(?:[^\"\\]|\\.)*\"|'(?:[^'\\]|\\.)*'|`[^`]*`")


class DurationError(ValueError):
    """Not a Prometheus duration (``90s``, ``1m``, ``1h30m``)."""


@dataclass(frozen=True)
class DrillTiming:
    """The timing of the stack's Prometheus, in seconds."""

    for_cap: float
    range_cap: float
    evaluation_seconds: float

    @property
    def evaluation_interval(self) -> str:
        return format_duration(self.evaluation_seconds)


# The scrape interval is 5 s (ringrift.ops.monitoring). A 30 s window holds six samples and
# keeps a counter's rate() above zero for 25-30 s after a burst of increments, long enough
# for the 5 s for: to pass even when the fault itself was over in a second (pg-failover); it
# also bounds how long such an alert takes to resolve after recovery.
DRILL_TIMING = DrillTiming(for_cap=5.0, range_cap=30.0, evaluation_seconds=1.0)


def parse_duration(text: str) -> float:
    """Seconds of a Prometheus duration string."""
    if not _DURATION.fullmatch(text):
        raise DurationError(f"not a Prometheus duration: {text!r}")
    return sum(int(n) * _UNITS[unit] for n, unit in _PART.findall(text))


def format_duration(seconds: float) -> str:
    """The shortest Prometheus spelling of a whole number of seconds or milliseconds."""
    if seconds != int(seconds):
        return f"{round(seconds * 1000)}ms"
    return f"{int(seconds)}s"


def cap_ranges(expr: str, cap: float) -> str:
    """``expr`` with every range window longer than ``cap`` shortened to ``cap``."""

    def shorten(match: re.Match[str]) -> str:
        seconds = parse_duration(match.group(1))
        return match.group(0) if seconds <= cap else f"[{format_duration(cap)}]"

    pieces, last = [], 0
    for literal in _STRING.finditer(expr):
        pieces.append(_RANGE.sub(shorten, expr[last : literal.start()]))
        pieces.append(literal.group(0))
        last = literal.end()
    pieces.append(_RANGE.sub(shorten, expr[last:]))
    return "".join(pieces)


def rewrite_rule(rule: dict[str, Any], timing: DrillTiming) -> dict[str, Any]:
    """A copy of one alerting or recording rule on drill timing."""
    copy = dict(rule)
    if "expr" in copy:
        copy["expr"] = cap_ranges(str(copy["expr"]), timing.range_cap)
    if "for" in copy and parse_duration(str(copy["for"])) > timing.for_cap:
        copy["for"] = format_duration(timing.for_cap)
    return copy


def rewrite_rules(text: str, timing: DrillTiming = DRILL_TIMING) -> dict[str, Any]:
    """A rule file (YAML text) on drill timing, as the structure Prometheus loads."""
    document = yaml.safe_load(text)
    if not isinstance(document, dict) or not isinstance(document.get("groups"), list):
        raise ValueError("not a Prometheus rule file: no groups")
    groups = []
    for group in document["groups"]:
        copy = dict(group)
        if "interval" in copy:  # a group's own interval would override the evaluation's
            copy["interval"] = timing.evaluation_interval
        copy["rules"] = [rewrite_rule(rule, timing) for rule in group.get("rules", [])]
        groups.append(copy)
    return {**document, "groups": groups}
