"""Game-event fan-out between app instances over Redis pub/sub, and the keyring-reload channel.

The database is the truth; this bus only tells sockets that something changed. An event is
``{"kind": "move"|"status", "gameId", "v", ...}`` where ``v`` is the game's version after the
change. Delivery is best effort and receivers are built for that: they drop versions they
already have and fetch any gap from the moves table (see ``realtime.py``).

* ``publish`` hands the event to this instance's sockets at once (no Redis round trip, works
  while Redis is down) and queues it for Redis. One publisher task drains the queue in order;
  while Redis is down it retries (events older than ``MAX_EVENT_AGE`` are dropped and counted:
  other instances recover them by resync).
* One subscriber task listens on ``ringrift:events`` and ``ringrift:keyring``. Whenever the
  subscription is lost it reconnects with backoff by itself; every (re)subscription calls the
  ``on_resubscribe`` hooks, which make each local socket re-read its games' versions from the
  database and receive whatever it missed meanwhile. Nothing is silently lost.
* A message on ``ringrift:keyring`` makes every instance reload its JWT keyring.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import functools
import itertools
import json
import logging
import time
import uuid
from collections.abc import Callable
from typing import Any

from ringrift.server import codec
from ringrift.server.metrics import Metrics, PublishOutcome
from ringrift.server.redis import RedisUnavailable, ResilientRedis

log = logging.getLogger(__name__)

EVENTS_CHANNEL = "ringrift:events"
KEYRING_CHANNEL = "ringrift:keyring"
MAX_EVENT_AGE = 30.0  # seconds an unpublished event is retried before it is dropped
MAX_OUTBOX = 10_000
PUBLISH_BATCH = 64
DRAIN_BATCH = 256  # messages handled per wake-up of the subscriber before yielding
READ_POLL_SECONDS = 1.0

EventHandler = Callable[[dict[str, Any]], None]


async def _publish_all(batch: list[str], client: Any) -> None:
    """Publish ``batch`` in order in one pipeline (no transaction). A retry after a failure
    may publish some events twice; receivers drop versions they already have."""
    async with client.pipeline(transaction=False) as pipe:
        for payload in batch:
            pipe.publish(EVENTS_CHANNEL, payload)
        await pipe.execute()


class EventBus:
    def __init__(
        self,
        redis: ResilientRedis,
        metrics: Metrics,
        *,
        backoff_min: float = 0.1,
        backoff_max: float = 1.0,
    ) -> None:
        self.redis = redis
        self.metrics = metrics
        self.instance_id = uuid.uuid4().hex[:12]
        self._own_prefix = codec.dumps({"origin": self.instance_id})[:-1] + ","
        self.backoff_min = backoff_min
        self.backoff_max = max(backoff_max, backoff_min)
        self.subscribed = False
        self._handlers: list[EventHandler] = []
        self._resubscribe_hooks: list[Callable[[], None]] = []
        self._keyring_hooks: list[Callable[[], None]] = []
        self._outbox: collections.deque[tuple[float, str]] = collections.deque()
        self._outbox_ready = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    # -- wiring --------------------------------------------------------------------------

    def on_event(self, handler: EventHandler) -> None:
        self._handlers.append(handler)

    def on_resubscribe(self, hook: Callable[[], None]) -> None:
        self._resubscribe_hooks.append(hook)

    def on_keyring_reload(self, hook: Callable[[], None]) -> None:
        self._keyring_hooks.append(hook)

    # -- publishing ----------------------------------------------------------------------

    def publish(self, event: dict[str, Any], remote: dict[str, Any] | None = None) -> None:
        """Deliver ``event`` to local handlers now and queue it (or its slimmer ``remote``
        form) for the other instances."""
        self._dispatch(event)
        if not self.redis.enabled:
            return
        # The origin goes first, so receivers skip their own events without parsing them.
        payload = codec.dumps({"origin": self.instance_id, **(event if remote is None else remote)})
        if len(self._outbox) >= MAX_OUTBOX:
            self._outbox.popleft()
            self.metrics.bus_published.labels(outcome=PublishOutcome.DROPPED).inc()
        self._outbox.append((time.monotonic(), payload))
        self._outbox_ready.set()

    async def publish_keyring_reload(self) -> bool:
        """Ask every instance (this one included, through its subscription) to reload the
        keyring. Returns False when Redis is unavailable (the caller reloads locally)."""
        message = json.dumps({"origin": self.instance_id, "at": time.time()})
        try:
            await self.redis.call(
                lambda client: client.publish(KEYRING_CHANNEL, message), name="PUBLISH"
            )
        except RedisUnavailable:
            return False
        return True

    def _dispatch(self, event: dict[str, Any]) -> None:
        for handler in self._handlers:
            try:
                handler(event)
            except Exception:
                log.exception("event handler failed", extra={"gameId": event.get("gameId")})

    async def _publisher(self) -> None:
        """Drain the outbox in order, up to ``PUBLISH_BATCH`` events per round trip (one
        pipeline), so a burst of moves costs one Redis round trip, not one per move."""
        while True:
            if not self._outbox:
                self._outbox_ready.clear()
                await self._outbox_ready.wait()
                continue
            now = time.monotonic()
            while self._outbox and now - self._outbox[0][0] > MAX_EVENT_AGE:
                self._outbox.popleft()
                self.metrics.bus_published.labels(outcome=PublishOutcome.DROPPED).inc()
            entries = list(itertools.islice(self._outbox, PUBLISH_BATCH))
            if not entries:
                continue
            batch = [payload for _, payload in entries]
            try:
                await self.redis.call(functools.partial(_publish_all, batch))
            except RedisUnavailable:
                self.metrics.bus_published.labels(outcome=PublishOutcome.RETRIED).inc()
                await asyncio.sleep(self.backoff_min)
                continue
            for entry in entries:
                # publish() may have dropped the oldest entries meanwhile (a full outbox).
                if self._outbox and self._outbox[0] is entry:
                    self._outbox.popleft()
            self.metrics.bus_published.labels(outcome=PublishOutcome.OK).inc(len(batch))

    # -- subscribing ---------------------------------------------------------------------

    async def _subscriber(self) -> None:
        delay = self.backoff_min
        while True:
            client = self.redis.new_pubsub_client(read_timeout=READ_POLL_SECONDS + 2)
            pubsub = client.pubsub()
            try:
                await asyncio.wait_for(
                    pubsub.subscribe(EVENTS_CHANNEL, KEYRING_CHANNEL), self.redis.timeout * 3
                )
                self.subscribed = True
                delay = self.backoff_min
                self.metrics.bus_resubscribes.inc()
                log.info("subscribed to game events", extra={"instance": self.instance_id})
                self._fire(self._resubscribe_hooks)
                while True:
                    message = await asyncio.wait_for(
                        pubsub.get_message(
                            ignore_subscribe_messages=True, timeout=READ_POLL_SECONDS
                        ),
                        READ_POLL_SECONDS + 3,
                    )
                    if message is None:
                        if not self.redis.healthy:
                            raise ConnectionError("redis reported down by the health monitor")
                        continue
                    self._handle(message)
                    # Drain what is already buffered without a timer per message.
                    for _ in range(DRAIN_BATCH):
                        message = await pubsub.get_message(
                            ignore_subscribe_messages=True, timeout=0.0
                        )
                        if message is None:
                            break
                        self._handle(message)
            except asyncio.CancelledError:
                raise
            except (Exception, TimeoutError) as error:
                if self.subscribed:
                    log.warning(
                        "pub/sub subscription lost; reconnecting",
                        extra={"detail": f"{type(error).__name__}: {error}"[:300]},
                    )
            finally:
                self.subscribed = False
                # Errors while closing are ignored, a cancellation is not: swallowing it here
                # would keep this task alive through close().
                for closable in (pubsub, client):
                    with contextlib.suppress(Exception):
                        await asyncio.wait_for(closable.aclose(), 1.0)
            await asyncio.sleep(delay)
            delay = min(self.backoff_max, delay * 2)

    def _handle(self, message: dict[str, Any]) -> None:
        channel = message.get("channel")
        data = message.get("data")
        if channel == KEYRING_CHANNEL:
            self.metrics.bus_received.labels(kind="keyring").inc()
            self._fire(self._keyring_hooks)
            return
        if channel != EVENTS_CHANNEL or not isinstance(data, str):
            return
        if self.is_own(data):
            return  # our own events were delivered locally when published
        try:
            event = codec.loads(data)
        except ValueError:
            log.warning("ignored a malformed bus message")
            return
        if not isinstance(event, dict) or event.get("origin") == self.instance_id:
            return  # our own events were delivered locally when published
        self.metrics.bus_received.labels(kind="event").inc()
        self._dispatch(event)

    def is_own(self, data: str) -> bool:
        """Whether a bus payload is one this instance published (its origin comes first)."""
        return data.startswith(self._own_prefix)

    def _fire(self, hooks: list[Callable[[], None]]) -> None:
        for hook in hooks:
            try:
                hook()
            except Exception:
                log.exception("bus hook failed")

    # -- lifecycle -----------------------------------------------------------------------

    def start(self) -> None:
        if self.redis.enabled and not self._tasks:
            self._tasks = [
                asyncio.create_task(self._publisher(), name="bus-publisher"),
                asyncio.create_task(self._subscriber(), name="bus-subscriber"),
            ]

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        if self._tasks:
            # Bounded: shutdown must not wait on a task that does not end.
            await asyncio.wait(self._tasks, timeout=3.0)
        self._tasks = []
