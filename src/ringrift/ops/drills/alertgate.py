"""The alerts a drill *requires*: its fault must make them fire, and recovery must clear them.

A drill declares the alerts its fault must raise (``Drill.alerts``). When the target has a
Prometheus, the drill holds its fault until each of them is *firing* in ``/api/v1/alerts``
(``DrillContext.hold_until_firing``), and after the drill the runner waits until none of them
is active any more. Either wait is bounded; an alert that does not fire, or does not resolve,
fails the drill: an outage that pages nobody, or a page that never clears, is a broken alert.

Only an alert raised by *this* fault counts as fired: Prometheus' ``activeAt`` (when it went
pending) must not be older than the fault, so an alert left active by an earlier drill cannot
pass for this one. Before a drill starts, the runner therefore lets such leftovers clear.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import httpx

from ringrift.ops.monitoring import rfc3339_to_unix

# How long a drill holds its fault for an alert, and the runner waits for it to resolve. With
# drill timing (ringrift.ops.drill_timing) both take 5-25 s; a minute means broken, not slow.
ALERT_TIMEOUT_SECONDS = 60.0
POLL_SECONDS = 0.5
# Prometheus stamps activeAt with its own clock, on this same machine; allow for rounding.
CLOCK_SLACK_SECONDS = 1.0


class Alert(StrEnum):
    """The alerts of deploy/prometheus/rules/ (a unit test keeps the two equal)."""

    APP_INSTANCE_DOWN = "RingRiftAppInstanceDown"
    ALL_APP_INSTANCES_DOWN = "RingRiftAllAppInstancesDown"
    READY_DEPENDENCY_FAILING = "RingRiftReadyDependencyFailing"
    DATABASE_UNAVAILABLE = "RingRiftDatabaseUnavailable"
    REDIS_DOWN = "RingRiftRedisDown"
    AI_BREAKER_OPEN = "RingRiftAIBreakerOpen"
    AI_FALLBACK_RATE_HIGH = "RingRiftAIFallbackRateHigh"
    AI_SERVICE_DOWN = "RingRiftAIServiceDown"
    MOVE_LATENCY_HIGH = "RingRiftMoveLatencyHigh"
    WEBSOCKET_MOVE_LATENCY_HIGH = "RingRiftWebSocketMoveLatencyHigh"
    HTTP_5XX_RATE_HIGH = "RingRiftHTTP5xxRateHigh"
    WEBSOCKET_ERROR_RATE_HIGH = "RingRiftWebSocketErrorRateHigh"
    BACKUP_TOO_OLD = "RingRiftBackupTooOld"
    KEYRING_TOO_OLD = "RingRiftKeyringTooOld"
    BALANCER_DOWN = "RingRiftBalancerDown"
    BALANCER_BACKEND_DOWN = "RingRiftBalancerBackendDown"
    BALANCER_NO_BACKEND = "RingRiftBalancerNoBackend"
    REPLICA_DOWN = "RingRiftReplicaDown"
    REPLICATION_LAG_HIGH = "RingRiftReplicationLagHigh"


class AlertState(StrEnum):
    PENDING = "pending"
    FIRING = "firing"


@dataclass(frozen=True)
class ActiveAlert:
    """One entry of ``/api/v1/alerts``."""

    alert: str
    state: AlertState
    active_at: float | None  # Unix time it went pending
    labels: dict[str, str]

    @classmethod
    def from_json(cls, entry: dict[str, Any]) -> ActiveAlert:
        labels = {k: str(v) for k, v in entry.get("labels", {}).items()}
        return cls(
            labels.get("alertname", ""),
            AlertState(entry.get("state", "pending")),
            rfc3339_to_unix(str(entry.get("activeAt", ""))),
            labels,
        )


@dataclass(frozen=True)
class Fired:
    """A required alert seen firing: seconds from the fault, and where."""

    alert: Alert
    seconds: float
    labels: dict[str, str]

    def where(self) -> str:
        return ", ".join(
            f"{k}={v}" for k, v in sorted(self.labels.items()) if k not in ("alertname",)
        )


class PrometheusAlerts:
    """Reads the active alerts of one Prometheus (``/api/v1/alerts``)."""

    def __init__(self, url: str, poll: float = POLL_SECONDS) -> None:
        self.url = url.rstrip("/") + "/api/v1/alerts"
        self.poll = poll

    def active(self) -> list[ActiveAlert] | None:
        """The pending and firing alerts, or None while Prometheus does not answer."""
        try:
            entries: list[dict[str, Any]] = httpx.get(self.url, timeout=2.0).json()["data"][
                "alerts"
            ]
            return [ActiveAlert.from_json(entry) for entry in entries]
        except (httpx.HTTPError, ValueError, KeyError, TypeError):
            return None

    def wait_firing(self, alert: Alert, since: float, timeout: float) -> Fired | None:
        """Block until ``alert`` fires having gone pending after ``since`` (monotonic time of
        the fault); None when it does not within ``timeout`` seconds of the fault."""
        since_unix = time.time() - (time.monotonic() - since) - CLOCK_SLACK_SECONDS
        deadline = since + timeout
        while True:
            for seen in self.active() or []:
                if (
                    seen.alert == alert
                    and seen.state is AlertState.FIRING
                    and seen.active_at is not None
                    and seen.active_at >= since_unix
                ):
                    return Fired(alert, time.monotonic() - since, seen.labels)
            if time.monotonic() >= deadline:
                return None
            time.sleep(self.poll)

    def wait_resolved(self, alerts: Iterable[Alert], timeout: float) -> dict[Alert, float | None]:
        """Block until none of ``alerts`` is pending or firing; for each, the seconds until it
        was first seen inactive (for good: an alert active again is waited for anew), None
        when still active after ``timeout``. Polls Prometheus does not answer prove nothing
        and do not count."""
        started = time.monotonic()
        wanted = list(alerts)
        cleared: dict[Alert, float] = {}
        while len(cleared) < len(wanted):
            active = self.active()
            if active is not None:
                names = {seen.alert for seen in active}
                for alert in wanted:
                    if alert in names:
                        cleared.pop(alert, None)  # active again: it had not resolved
                    else:
                        cleared.setdefault(alert, time.monotonic() - started)
            if len(cleared) == len(wanted) or time.monotonic() - started >= timeout:
                break
            time.sleep(self.poll)
        return {alert: cleared.get(alert) for alert in wanted}
