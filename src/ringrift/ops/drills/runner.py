"""Run drills in order against a stack and collect their results."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ringrift.ops.deployment import Deployment
from ringrift.ops.drill_timing import DRILL_TIMING
from ringrift.ops.drills import load_builtin
from ringrift.ops.drills.alertgate import ALERT_TIMEOUT_SECONDS, Alert, PrometheusAlerts
from ringrift.ops.drills.alerts import AlertWatcher, Observation
from ringrift.ops.drills.base import Check, Drill, DrillContext, DrillResult
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


def require_alerts(
    result: DrillResult,
    declared: tuple[Alert, ...],
    ctx: DrillContext,
    resolved: dict[Alert, float | None],
) -> None:
    """The checks on a drill's required alerts once it is over: the drill held its fault for
    each (a drill that forgot would pass without its alert ever being looked at), and each
    resolved after recovery (``time_to_resolve_ALERT``, seconds after the drill ended)."""
    for alert in declared:
        if alert not in ctx.awaited and result.error is None:
            result.checks.append(
                Check(f"alert {alert} fired", False, "the drill never held its fault for it")
            )
        seconds = resolved.get(alert)
        if seconds is not None:
            result.timings[f"time_to_resolve_{alert}"] = seconds
        result.checks.append(
            Check(
                f"alert {alert} resolved within {ctx.alert_timeout:.0f} s of recovery",
                seconds is not None,
                "still active" if seconds is None else f"{seconds:.1f}s after the drill ended",
            )
        )


def run_drill(
    drill: Drill,
    stack: Stack | Deployment,
    *,
    work_dir: Path,
    recovery_timeout: float = 30.0,
    on_event: Callable[[str], None] = lambda _m: None,
    alert_timeout: float = ALERT_TIMEOUT_SECONDS,
) -> DrillResult:
    """One drill against ``stack``; with Prometheus, its required alerts must fire during the
    fault and resolve afterwards, and the other alerts it raised are noted."""
    prometheus = prometheus_url(stack)
    # Only the local stack's Prometheus runs on drill timing; a deployment's waits a minute
    # or more before firing, which no drill should hold a fault for.
    gate = prometheus if isinstance(stack, Stack) else None
    ctx = DrillContext(
        stack,
        work_dir / drill.name,
        recovery_timeout=recovery_timeout,
        prometheus=gate,
        alert_timeout=alert_timeout,
    )
    ctx.work_dir.mkdir(parents=True, exist_ok=True)
    declared = drill.required_alerts(ctx)
    required = PrometheusAlerts(gate) if gate and declared else None
    # An alert an earlier drill left active would never go pending anew for this fault.
    leftovers = required.wait_resolved(declared, alert_timeout) if required else {}
    watcher = AlertWatcher(prometheus) if prometheus else None
    if watcher:
        watcher.start()
    result = drill.execute(ctx, on_event)
    if watcher:
        watcher.mark_ended()
    if required and result.skipped is None:
        for alert, waited in leftovers.items():
            if waited is None or waited > required.poll:
                result.notes.append(
                    f"{alert} was left active by an earlier drill: "
                    + ("still active" if waited is None else f"cleared after {waited:.1f}s")
                    + " before this drill started"
                )
        on_event(f"{drill.name}: waiting for {', '.join(declared)} to resolve")
        require_alerts(result, declared, ctx, required.wait_resolved(declared, alert_timeout))
    elif prometheus and declared and result.skipped is None and gate is None:
        result.notes.append(
            f"Required alerts ({', '.join(declared)}) not checked: the target's Prometheus "
            "runs production timing, not drill timing"
        )
    if watcher:
        record_alerts(result, watcher.finish(recovery_timeout))
    return result


def prometheus_url(stack: Stack | Deployment) -> str | None:
    return stack.url("prometheus") if "prometheus" in stack.services else None


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
    prometheus = prometheus_url(stack)
    if prometheus:
        meta["prometheus"] = prometheus
        if isinstance(stack, Stack):  # the local stack's Prometheus: drill timing
            meta["drillTiming"] = asdict(DRILL_TIMING)
    results = []
    for name in selected:
        result = run_drill(
            registry[name](),
            stack,
            work_dir=work_dir,
            recovery_timeout=recovery_timeout,
            on_event=on_event,
        )
        results.append(result)
        on_event(f"{name}: {result.status}")
    meta["finishedAt"] = datetime.now(UTC).isoformat(timespec="seconds")
    return results, meta
