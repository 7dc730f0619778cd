"""Login throttling that an attacker cannot turn against the account owner.

There is no account lock. Failed logins are counted in three places (fixed windows of
``LOGIN_FAILURE_WINDOW_SECONDS``, on Redis with a per-instance memory fallback):

* per client address and email: after ``LOGIN_MAX_FAILURES_PER_ADDRESS`` failures, that address
  must wait for the window to end before trying this email again (the guesser is slowed, not the
  owner, who logs in from elsewhere);
* per email across all addresses (distributed guessing): past ``LOGIN_MAX_FAILURES_PER_ACCOUNT``
  attempts are refused, except from an address that logged into this account successfully in
  the last ``LOGIN_KNOWN_ADDRESS_DAYS`` days, so the owner still gets in while it is attacked;
* per client address across all emails (password spraying): ``LOGIN_MAX_FAILURES_PER_IP``.

Counters are keyed by the normalised email, not by the account, so an unknown email is throttled
exactly like a known one (no enumeration through the throttle).
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from ringrift.server.errors import ApiError, ErrorCode
from ringrift.server.redis import RedisUnavailable, ResilientRedis

KEY_PREFIX = "ringrift:login:"
LOCAL_MAX_KEYS = 100_000


class Scope(StrEnum):
    ADDRESS_EMAIL = "addr-email"
    EMAIL = "email"
    ADDRESS = "addr"


@dataclass(frozen=True)
class ThrottleLimits:
    window_seconds: int
    per_address_email: int
    per_account: int
    per_address: int
    known_address_seconds: int


def _digest(value: str) -> str:
    # Emails are personal data: keys carry a digest, not the address itself.
    return hashlib.sha256(value.encode()).hexdigest()[:32]


class LoginThrottle:
    def __init__(
        self,
        redis: ResilientRedis,
        limits: ThrottleLimits,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.redis = redis
        self.limits = limits
        self.clock = clock
        self._local: dict[str, tuple[float, int]] = {}  # key -> (expires at, value)

    # Storage ----------------------------------------------------------------------------

    def _window(self) -> tuple[int, int]:
        now = self.clock()
        window = self.limits.window_seconds
        index = int(now // window)
        return index, max(1, math.ceil((index + 1) * window - now))

    def _local_get(self, key: str) -> int:
        entry = self._local.get(key)
        if entry is None or entry[0] <= self.clock():
            return 0
        return entry[1]

    def _local_incr(self, key: str, ttl: int) -> int:
        if len(self._local) > LOCAL_MAX_KEYS:
            now = self.clock()
            self._local = {k: v for k, v in self._local.items() if v[0] > now}
        value = self._local_get(key) + 1
        self._local[key] = (self.clock() + ttl, value)
        return value

    async def _get(self, key: str) -> int:
        try:
            raw = await self.redis.call(lambda client: client.get(key), name="GET")
        except RedisUnavailable:
            return self._local_get(key)
        return int(raw or 0)

    async def _incr(self, key: str, ttl: int) -> None:
        async def incr(client: object) -> None:
            pipe = client.pipeline(transaction=False)  # type: ignore[attr-defined]
            pipe.incr(key)
            pipe.expire(key, ttl)
            await pipe.execute()

        try:
            await self.redis.call(incr)
        except RedisUnavailable:
            self._local_incr(key, ttl)

    def _key(self, scope: Scope, value: str, index: int) -> str:
        return f"{KEY_PREFIX}{scope.value}:{_digest(value)}:{index}"

    # Policy -----------------------------------------------------------------------------

    def _known_key(self, user_id: str, address: str) -> str:
        return f"{KEY_PREFIX}known:{_digest(user_id + '|' + address)}"

    async def is_known_address(self, user_id: str | None, address: str) -> bool:
        if user_id is None:
            return False
        return await self._get(self._known_key(user_id, address)) > 0

    async def check(self, email: str, address: str, user_id: str | None) -> None:
        """Refuse (429 ``AUTH_LOGIN_LOCKED_OUT`` with ``Retry-After``) before the password is
        checked when a failure budget is spent."""
        index, retry_after = self._window()
        limits = self.limits
        spent: list[Scope] = []
        if (
            limits.per_address
            and await self._get(self._key(Scope.ADDRESS, address, index)) >= limits.per_address
        ):
            spent.append(Scope.ADDRESS)
        pair = f"{address}|{email}"
        if (
            limits.per_address_email
            and await self._get(self._key(Scope.ADDRESS_EMAIL, pair, index))
            >= limits.per_address_email
        ):
            spent.append(Scope.ADDRESS_EMAIL)
        if (
            limits.per_account
            and await self._get(self._key(Scope.EMAIL, email, index)) >= limits.per_account
            and not await self.is_known_address(user_id, address)
        ):
            spent.append(Scope.EMAIL)
        if spent:
            raise ApiError(
                ErrorCode.AUTH_LOGIN_LOCKED_OUT,
                f"Too many failed logins; try again in {retry_after}s",
                details={"retryAfterSeconds": retry_after},
                headers={"Retry-After": str(retry_after)},
            )

    async def record_failure(self, email: str, address: str) -> None:
        index, _ = self._window()
        ttl = self.limits.window_seconds + 1
        await self._incr(self._key(Scope.ADDRESS, address, index), ttl)
        await self._incr(self._key(Scope.ADDRESS_EMAIL, f"{address}|{email}", index), ttl)
        await self._incr(self._key(Scope.EMAIL, email, index), ttl)

    async def record_success(self, user_id: str, address: str) -> None:
        """Remember the address as known to this account (it bypasses the account slowdown)."""
        ttl = self.limits.known_address_seconds
        key = self._known_key(user_id, address)

        async def remember(client: object) -> None:
            await client.set(key, 1, ex=ttl)  # type: ignore[attr-defined]

        try:
            await self.redis.call(remember)
        except RedisUnavailable:
            self._local[key] = (self.clock() + ttl, 1)
