"""The SDK's serving control on its own: the breaker's states, the watcher's
conditional polls and last-known state, and routing in both clients."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest
from verity_sdk.aio import AsyncVerityClient
from verity_sdk.serving import (
    BreakerConfig,
    CircuitBreaker,
    Router,
    ServingCounts,
    ServingStopped,
    ServingWatcher,
)

from tests.support.waiting import wait_until


class ControlPlane:
    """A serving-state endpoint that answers 304 to a matching If-None-Match, or fails."""

    def __init__(self) -> None:
        self.state, self.revision, self.down = "active", 1, False
        self.polls = self.not_modified = 0
        self.reports: list[dict[str, Any]] = []

    def handler(self, request: httpx.Request) -> httpx.Response:
        if self.down:
            raise httpx.ConnectError("down")
        if request.url.path.endswith(":report"):
            import json

            self.reports.append(json.loads(request.content))
            return httpx.Response(204)
        self.polls += 1
        tag = f'"1.{self.revision}"'
        if request.headers.get("If-None-Match") == tag:
            self.not_modified += 1
            return httpx.Response(304, headers={"ETag": tag})
        return httpx.Response(200, headers={"ETag": tag},
                              json={"state": self.state, "reason": "", "revision": self.revision})  # fmt: skip

    def set(self, state: str) -> None:
        self.state, self.revision = state, self.revision + 1


def watcher(plane: ControlPlane, counts: ServingCounts) -> ServingWatcher:
    http = httpx.Client(base_url="http://verity", transport=httpx.MockTransport(plane.handler))
    return ServingWatcher(http, "m", "v1", {}, 0.05, counts)


def test_the_breaker_opens_half_opens_and_closes() -> None:
    moves: list[str] = []
    breaker = CircuitBreaker(BreakerConfig(window=10, min_calls=4, error_rate=0.5, cooldown=0.2),
                             lambda event, why: moves.append(event))  # fmt: skip
    for ok in (True, False, True, False):
        breaker.record(ok)
    assert breaker.state == "open" and moves == ["breaker_open"]
    assert not breaker.allow()
    wait_until(breaker.allow, timeout=2, what="the cool-down")
    assert breaker.state == "half_open" and not breaker.allow()  # one probe at a time
    breaker.record(False)
    assert breaker.state == "open"
    wait_until(breaker.allow, timeout=2, what="the second cool-down")
    breaker.record(True)
    assert breaker.state == "closed"
    assert moves == ["breaker_open", "breaker_half_open", "breaker_open", "breaker_half_open",
                     "breaker_closed"]  # fmt: skip


def test_polls_are_conditional_and_the_last_state_holds_when_unreachable() -> None:
    plane, counts = ControlPlane(), ServingCounts()
    watch = watcher(plane, counts)
    watch.poll()
    watch.poll()
    assert plane.not_modified == 1 and watch.state == "active"
    plane.set("tripped")
    watch.poll()
    assert watch.state == "tripped"
    plane.down = True
    watch.poll()
    watch.poll()
    assert watch.state == "tripped" and counts.poll_failures == 2
    plane.down = False
    watch.poll()
    watch._send_reports()
    assert plane.reports[-1]["event"] == "poll_failures"
    assert plane.reports[-1]["counts"] == {"failed_polls": 2}


def test_routing_serves_the_fallback_and_raises_without_one() -> None:
    plane, counts = ControlPlane(), ServingCounts()
    watch = watcher(plane, counts)
    router = Router(watch, CircuitBreaker(BreakerConfig()), lambda x: -x, counts)
    assert router.call(lambda x: x, (3,), {}) == (3, "primary", "")
    plane.set("stopped")
    watch.poll()
    assert router.call(lambda x: x, (3,), {}) == (-3, "fallback", "control plane: stopped")
    bare = Router(watch, CircuitBreaker(BreakerConfig()), None, counts)
    with pytest.raises(ServingStopped):
        bare.call(lambda x: x, (3,), {})


def test_the_async_client_routes_through_its_fallback() -> None:
    plane = ControlPlane()
    plane.set("tripped")

    async def scenario() -> list[tuple[Any, str, str]]:
        async def primary(x: int) -> int:
            return x

        client = AsyncVerityClient(
            "http://verity", "vt_x", "m", "v1", fallback=lambda x: 0,
            serving_poll_interval=0.05, serving_transport=httpx.MockTransport(plane.handler),
            transport=httpx.MockTransport(lambda r: httpx.Response(200, json={})),
        )  # fmt: skip
        deadline = time.monotonic() + 5
        while client.serving_state != "tripped" and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        tripped = await client.predict_routed(primary, 5)
        plane.set("active")
        while client.serving_state != "active" and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        active = await client.predict_routed(primary, 5)
        await client.aclose()
        return [tripped, active]

    tripped, active = asyncio.run(scenario())
    assert tripped == (0, "fallback", "control plane: tripped")
    assert active == (5, "primary", "")
