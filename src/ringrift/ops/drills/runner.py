"""Run drills in order against a stack and collect their results."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ringrift.ops.deployment import Deployment
from ringrift.ops.drills import load_builtin
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
    results = []
    for name in selected:
        ctx = DrillContext(stack, work_dir / name, recovery_timeout=recovery_timeout)
        ctx.work_dir.mkdir(parents=True, exist_ok=True)
        results.append(registry[name]().execute(ctx, on_event))
        on_event(f"{name}: {results[-1].status}")
    meta["finishedAt"] = datetime.now(UTC).isoformat(timespec="seconds")
    return results, meta
