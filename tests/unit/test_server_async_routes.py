"""Every endpoint and dependency of the app's routers is a coroutine function.

FastAPI runs a plain ``def`` endpoint or dependency in its thread pool: each request that
touches one takes a thread hop and a GIL hand-over, and under load waits behind whatever the
event loop has queued. ``get_ctx`` was such a dependency, on /health and nearly every other
route, and doubled /health's p95 while replays ran (``bench replay``)."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, APIWebSocketRoute

import ringrift.server.api
from ringrift.server import realtime


def _routers() -> Iterator[tuple[str, APIRouter]]:
    for info in pkgutil.iter_modules(ringrift.server.api.__path__):
        module = importlib.import_module(f"ringrift.server.api.{info.name}")
        router = getattr(module, "router", None)
        if isinstance(router, APIRouter):
            yield info.name, router
    yield "realtime", realtime.router


def _is_coroutine(call: Any) -> bool:
    return inspect.iscoroutinefunction(call) or inspect.iscoroutinefunction(
        getattr(call, "__call__", None)  # noqa: B004 - a callable instance (HTTPBearer)
    )


def _sync_dependencies(dependant: Dependant) -> Iterator[str]:
    for dependency in dependant.dependencies:
        if not _is_coroutine(dependency.call):
            yield getattr(dependency.call, "__qualname__", repr(dependency.call))
        yield from _sync_dependencies(dependency)


def test_endpoints_and_dependencies_are_coroutines() -> None:
    routes = 0
    offenders: list[str] = []
    for name, router in _routers():
        for route in router.routes:
            if not isinstance(route, APIRoute | APIWebSocketRoute):
                continue
            routes += 1
            where = f"{name}: {route.path}"
            if not _is_coroutine(route.endpoint):
                offenders.append(f"{where} endpoint {route.endpoint.__qualname__}")
            offenders += [f"{where} dependency {d}" for d in _sync_dependencies(route.dependant)]
    assert routes > 50, f"only {routes} routes found: the walk missed routers"
    assert not offenders, "\n".join(sorted(set(offenders)))
