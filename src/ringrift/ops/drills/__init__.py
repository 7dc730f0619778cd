"""Operational drills: inject a fault into a running platform, check that it degrades the way
docs/system.md promises, remediate, and check that it recovers; record everything.

``ringrift drill run NAME...|all`` runs drills against a target (today: the local stack of
``ringrift stack``) and writes a Markdown report plus a JSON journal (see :mod:`.report`).

Adding a drill (one module, nothing else to touch except the list below)::

    # src/ringrift/ops/drills/redis_outage.py
    from ringrift.ops.drills.base import Drill, DrillContext, Recorder, register

    @register
    class RedisOutage(Drill):
        name = "redis-outage"                # CLI name, unique
        title = "Redis outage"               # report heading
        objective = "Redis goes down: /ready degraded, login works; it reconnects by itself."

        def run(self, ctx: DrillContext, rec: Recorder) -> None:
            with rec.step("Seed users and games through the public API"):
                data = ctx.seed()
            with rec.step("Stop Redis"):
                ctx.stack.stop("redis")
            ready, seconds = ctx.wait_ready(lambda r: r.json()["status"] == "degraded", 5)
            rec.check("/ready degraded within 2 s", ready is not None and seconds <= 2, ...)
            ...

then add ``"redis_outage"`` to :data:`BUILTIN_MODULES`. A drill records steps
(``rec.step``), checks (``rec.check(name, passed, detail)``), timings (``rec.timing``) and
findings (``rec.finding``); an exception fails the drill with the error recorded. After every
drill the runner restarts any stack service the drill left stopped (and notes it), so drills
are independent and can run in any order. ``ctx.api`` is an HTTP client for the app
(register/login/games/moves helpers), ``ctx.seed()`` creates users and games with a few legal
moves through that API, ``ctx.stack`` is the :class:`ringrift.ops.stack.Stack`.

A drill that injects a fault names the alerts it must raise (``alerts = (Alert.REDIS_DOWN,)``,
:mod:`.alertgate`) and calls ``ctx.hold_until_firing(rec, self.alerts, fault_started)`` after
injecting it and before restoring: with Prometheus the fault is held until they fire, and the
runner then requires them to resolve; without, the call does nothing.
"""

from __future__ import annotations

import importlib

from ringrift.ops.drills.base import REGISTRY, Drill, DrillContext, DrillResult, Recorder, register

BUILTIN_MODULES = [
    "backup_restore",
    "pitr",
    "db_outage",
    "app_crash",
    "ai_outage",
    "secrets_rotation",
    "redis_outage",
    "instance_failover",
    "redis_failover",
    "pg_failover",
    "lb_instance_loss",
]

__all__ = [
    "BUILTIN_MODULES",
    "REGISTRY",
    "Drill",
    "DrillContext",
    "DrillResult",
    "Recorder",
    "load_builtin",
    "register",
]


def load_builtin() -> dict[str, type[Drill]]:
    """Import every built-in drill module (each registers itself) and return the registry."""
    for module in BUILTIN_MODULES:
        importlib.import_module(f"{__name__}.{module}")
    return REGISTRY
