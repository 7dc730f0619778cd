"""Which alerts a drill's fault raised, read from the Prometheus of the target.

When the target has a ``prometheus`` service (``ringrift stack up --monitoring``, or a
deployment file naming one), the runner watches ``/api/v1/alerts`` during each drill: every
alert that was not already active when the drill started is recorded with the seconds until
it went pending and until it fired, then the runner waits for it to clear once the drill has
restored the service (after a short settling time, since Prometheus sees a fault one scrape
and one evaluation late), and records that too. The drill report shows these as timings and
notes (time to alert, time to resolve); they do not change a drill's PASS/FAIL. The alerts a
drill *requires* (``Drill.alerts``) are checked separately, and do decide it: see
:mod:`.alertgate`.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

import httpx

# One scrape (5 s) plus one rule evaluation (1 s, drill timing) of the stack's Prometheus,
# and a margin.
SETTLE_SECONDS = 8.0


@dataclass
class Observation:
    alert: str
    labels: dict[str, str]
    pending_after: float
    firing_after: float | None = None
    resolved_after: float | None = None  # seconds after the drill ended

    def describe(self) -> str:
        where = ", ".join(f"{k}={v}" for k, v in sorted(self.labels.items()))
        parts = [f"pending after {self.pending_after:.1f}s"]
        parts.append(
            f"firing after {self.firing_after:.1f}s"
            if self.firing_after is not None
            else "not firing (its for: outlasted the fault)"
        )
        parts.append(
            f"resolved {self.resolved_after:.1f}s after the drill"
            if self.resolved_after is not None
            else "still active when the watch ended"
        )
        return f"Alert {self.alert}" + (f" ({where})" if where else "") + ": " + ", ".join(parts)


def _key(alert: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    labels = alert.get("labels", {})
    return tuple(sorted((k, str(v)) for k, v in labels.items() if k != "severity"))


class AlertWatcher:
    """Polls ``/api/v1/alerts`` in a background thread from :meth:`start` to :meth:`finish`."""

    def __init__(self, prometheus_url: str, interval: float = 0.5) -> None:
        self.url = prometheus_url.rstrip("/") + "/api/v1/alerts"
        self.interval = interval
        self._seen: dict[tuple[tuple[str, str], ...], Observation] = {}
        self._baseline: set[tuple[tuple[str, str], ...]] = set()
        self._active: set[tuple[tuple[str, str], ...]] = set()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._started = 0.0
        self._ended: float | None = None
        self._lock = threading.Lock()

    def _poll(self) -> list[dict[str, Any]] | None:
        try:
            response = httpx.get(self.url, timeout=2.0)
            alerts: list[dict[str, Any]] = response.json()["data"]["alerts"]
        except (httpx.HTTPError, ValueError, KeyError):
            return None  # Prometheus itself unreachable: no observation this round
        return alerts

    def _observe(self, alerts: list[dict[str, Any]]) -> None:
        now = time.monotonic()
        with self._lock:
            active = set()
            for alert in alerts:
                key = _key(alert)
                active.add(key)
                if key in self._baseline:
                    continue
                seen = self._seen.get(key)
                if seen is None:
                    labels = dict(key)
                    name = labels.pop("alertname", "?")
                    seen = self._seen[key] = Observation(name, labels, now - self._started)
                if alert.get("state") == "firing" and seen.firing_after is None:
                    seen.firing_after = now - self._started
            if self._ended is not None:
                for key, seen in self._seen.items():
                    if key not in active and seen.resolved_after is None:
                        seen.resolved_after = max(0.0, now - self._ended)
            self._active = active

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            alerts = self._poll()
            if alerts is not None:
                self._observe(alerts)

    def start(self) -> None:
        self._started = time.monotonic()
        baseline = self._poll() or []
        self._baseline = {_key(a) for a in baseline}
        self._thread = threading.Thread(target=self._run, daemon=True, name="alert-watcher")
        self._thread.start()

    def mark_ended(self) -> None:
        """The drill is over (resolution times count from now); the watch goes on."""
        with self._lock:
            if self._ended is None:
                self._ended = time.monotonic()

    def finish(
        self, resolve_timeout: float = 30.0, settle: float = SETTLE_SECONDS
    ) -> list[Observation]:
        """The drill is over: keep watching until ``settle`` seconds after its end (a fault is
        seen one scrape and one rule evaluation late, so a short fault raises its alert after
        the drill has already restored the service), then up to ``resolve_timeout`` for the
        alerts it raised to clear, then stop. Both count from the end of the drill, so time the
        runner spent meanwhile (waiting for the required alerts) is not added on top."""
        self.mark_ended()
        assert self._ended is not None
        settled = self._ended + settle
        deadline = self._ended + max(resolve_timeout, settle)
        while time.monotonic() < deadline:
            with self._lock:
                resolved = all(o.resolved_after is not None for o in self._seen.values())
            if resolved and time.monotonic() >= settled:
                break
            time.sleep(self.interval)
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        with self._lock:
            return sorted(self._seen.values(), key=lambda o: o.pending_after)
