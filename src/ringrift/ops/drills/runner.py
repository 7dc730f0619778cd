"""Run drills in order against a stack and collect their results."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ringrift.ops.deployment import Deployment
from ringrift.ops.drills import load_builtin
from ringrift.ops.drills.alerts import AlertWatcher, Observation
from ringrift.ops.drills.base import DrillContext, DrillResult
from ringrift.ops.stack import Stack


class DrillError(ValueError):
    """Unknown drill name or unusable target."""


def resolve(names: list[str]) -> list[str]:
    registry = load_builtin()
    if not names or names == ["all"]:
        return list(registry)
    unknown = [n for n in names if n not in registry]
    if unknown or "all" in names:
        raise DrillError(
            f"unknown drill(s) {', '.join(unknown) or 'all (use it alone)'}; "
            f"available: {', '.join(registry)} or all"
        )
    return names


def record_alerts(result: DrillResult, observed: list[Observation]) -> None:
    """The alerts a drill raised, as timings (time to alert) and notes in its report."""
    if not observed:
        result.notes.append("Alerts: none raised during this drill")
    for seen in observed:
        result.notes.append(seen.describe())
        result.timings.setdefault(f"time_to_alert_{seen.alert}", seen.pending_after)
        if seen.firing_after is not None:
            result.timings.setdefault(f"time_to_firing_{seen.alert}", seen.firing_after)


def run_drills(
    names: list[str],
    stack: Stack | Deployment,
    *,
    work_dir: Path,
    recovery_timeout: float = 30.0,
    on_event: Callable[[str], None] = lambda _m: None,
    target: str = "local",
) -> tuple[list[DrillResult], dict[str, Any]]:
    registry = load_builtin()
    selected = resolve(names)
    meta: dict[str, Any] = {
        "startedAt": datetime.now(UTC).isoformat(timespec="seconds"),
        "target": target,
        "targetDetail": (
            stack.describe() if hasattr(stack, "describe") else f"stack in {stack.run_dir}"
        ),
        "stack": {name: stack.url(name) for name in stack.services if name != "postgres"},
        "recoveryTimeoutSeconds": recovery_timeout,
    }
    prometheus = stack.url("prometheus") if "prometheus" in stack.services else None
    if prometheus:
        meta["prometheus"] = prometheus
    results = []
    for name in selected:
        ctx = DrillContext(stack, work_dir / name, recovery_timeout=recovery_timeout)
        ctx.work_dir.mkdir(parents=True, exist_ok=True)
        watcher = AlertWatcher(prometheus) if prometheus else None
        if watcher:
            watcher.start()
        result = registry[name]().execute(ctx, on_event)
        if watcher:
            record_alerts(result, watcher.finish(recovery_timeout))
        results.append(result)
        on_event(f"{name}: {results[-1].status}")
    meta["finishedAt"] = datetime.now(UTC).isoformat(timespec="seconds")
    return results, meta
