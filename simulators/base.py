"""What every simulator shares: the message log, the request log and fault switches."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from aiohttp import web

HTML_ERROR_PAGE = (
    "<!DOCTYPE html><html><head><title>500 Internal Server Error</title></head>"
    "<body><h1>Internal Server Error</h1><p>The server encountered an internal error.</p></body></html>"
)


# Every secret a simulator holds (demo logins, keys) or hands out (tokens): no log line of the integration may
# carry one (the tests' log guard looks for each)
SECRETS: set[str] = set()


def secret(value: str) -> str:
    """Remember a secret and return it."""
    SECRETS.add(value)
    return value


MOVED_PATH = "/moved"
MOVED_PAGE = "<!DOCTYPE html><html><head><title>Login</title></head><body><form>Sign in</form></body></html>"


class Fault(StrEnum):
    """Ways a simulator can be told to misbehave."""

    HTTP_503 = "http_503"
    HTML_500 = "html_500"
    SLOW = "slow"
    RESET = "reset"
    # Answer with a redirect to /moved, which answers 200 with a web page to whatever follows it
    REDIRECT_302 = "redirect_302"
    REDIRECT_307 = "redirect_307"


@dataclass(kw_only=True)
class ReceivedMessage:
    """One message a simulated device accepted."""

    provider: str
    to: str
    text: str
    options: dict[str, Any] = field(default_factory=dict)
    received_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))


@dataclass(kw_only=True)
class RecordedRequest:
    """One request as it reached the simulator (secrets included: tests check where they travel)."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    form: dict[str, str]
    status: int = 0


@dataclass(kw_only=True)
class _ActiveFault:
    """A fault and how many more requests it applies to (None: until cleared)."""

    fault: Fault
    remaining: int | None
    delay: float
    # Paths that keep answering (e.g. a status page still served while the SMS API fails)
    spared: frozenset[str] = frozenset()


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Simulator:
    """Base of a simulated provider: logs, faults and a listener for received messages."""

    name = "simulator"

    def __init__(self) -> None:
        """Start with empty logs and no fault."""
        self.messages: list[ReceivedMessage] = []
        self.requests: list[RecordedRequest] = []
        self._fault: _ActiveFault | None = None
        self.listeners: list[Callable[[ReceivedMessage], None]] = []
        # Seconds every answer takes, as a device that needs time per request would
        self.latency = 0.0
        # Requests being answered now, and the most at once since the last /_sim/stats
        self.in_flight = 0
        self.peak_in_flight = 0

    def fail(
        self, fault: Fault | str, *, times: int | None = None, delay: float = 60.0, spare: tuple[str, ...] = ()
    ) -> None:
        """Misbehave on the next `times` requests (all, if None); `delay` is how long SLOW waits.

        Requests to the paths in `spare` are answered as usual (and not counted).
        """
        self._fault = _ActiveFault(fault=Fault(fault), remaining=times, delay=delay, spared=frozenset(spare))

    def recover(self) -> None:
        """Behave again."""
        self._fault = None

    def record_message(self, message: ReceivedMessage) -> None:
        """Keep a message the device took and tell the listeners."""
        self.messages.append(message)
        for listener in self.listeners:
            listener(message)

    def _take_fault(self, path: str) -> _ActiveFault | None:
        """Return the fault for a request to `path`, counting it down."""
        fault = self._fault
        if fault is None or path in fault.spared:
            return None
        if fault.remaining is not None:
            fault.remaining -= 1
            if fault.remaining <= 0:
                self._fault = None
        return fault

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Record every request and apply the active fault before the real handler."""
        form: dict[str, str] = {}
        if request.method == "POST" and request.content_type in (
            "application/x-www-form-urlencoded",
            "multipart/form-data",
        ):
            # A multipart body without a boundary (Zabbix's webhook) has no fields: the handler decides
            with contextlib.suppress(ValueError):
                form = {key: str(value) for key, value in (await request.post()).items()}
        recorded = RecordedRequest(
            method=request.method,
            path=request.path,
            query=dict(request.query),
            headers=dict(request.headers),
            form=form,
        )
        if request.path.startswith("/_sim/"):
            return await handler(request)
        self.requests.append(recorded)
        self.in_flight += 1
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        try:
            if self.latency:
                await asyncio.sleep(self.latency)
            # What a redirect fault points at answers as itself, as the page behind a real redirect would
            fault = None if request.path == MOVED_PATH else self._take_fault(request.path)
            response = await (self._apply_fault(request, fault) if fault is not None else handler(request))
        finally:
            self.in_flight -= 1
        recorded.status = response.status
        return response

    def stats(self) -> dict[str, Any]:
        """Count requests by path and messages for scripts and benchmarks; restart the peak of requests at once."""
        stats = {
            "requests": len(self.requests),
            "messages": len(self.messages),
            "paths": dict(Counter(recorded.path for recorded in self.requests)),
            "peak_in_flight": self.peak_in_flight,
        }
        self.peak_in_flight = self.in_flight
        return stats

    async def _apply_fault(self, request: web.Request, fault: _ActiveFault) -> web.StreamResponse:
        """Answer the way the fault says."""
        if fault.fault is Fault.HTTP_503:
            return web.Response(status=503, text="Service Unavailable")
        if fault.fault is Fault.HTML_500:
            return web.Response(status=500, text=HTML_ERROR_PAGE, content_type="text/html")
        if fault.fault is Fault.SLOW:
            await asyncio.sleep(fault.delay)
            return web.Response(status=504, text="Gateway Timeout")
        if fault.fault in (Fault.REDIRECT_302, Fault.REDIRECT_307):
            status = 302 if fault.fault is Fault.REDIRECT_302 else 307
            return web.Response(status=status, headers={"Location": MOVED_PATH})
        # RESET: drop the connection without an answer
        if request.transport is not None:
            request.transport.abort()
        raise web.HTTPServiceUnavailable

    def control_routes(self) -> list[web.RouteDef]:
        """Routes for scripts/develop and the benchmarks: /_sim/fault?name=...&times=..., messages and stats."""

        async def moved(request: web.Request) -> web.Response:
            # Where a redirect fault points: a web page, as a device's login screen would be
            return web.Response(text=MOVED_PAGE, content_type="text/html")

        async def set_fault(request: web.Request) -> web.Response:
            name = request.query.get("name", "")
            if name in ("", "none"):
                self.recover()
                return web.Response(text="recovered\n")
            times = request.query.get("times")
            self.fail(name, times=int(times) if times else None)
            return web.Response(text=f"fault {name} on\n")

        async def list_messages(request: web.Request) -> web.Response:
            return web.json_response(
                [
                    {"to": m.to, "text": m.text, "options": m.options, "received_at": m.received_at.isoformat()}
                    for m in self.messages
                ]
            )

        async def get_stats(request: web.Request) -> web.Response:
            return web.json_response(self.stats())

        async def set_latency(request: web.Request) -> web.Response:
            try:
                seconds = float(request.query.get("seconds", "0"))
            except ValueError:
                raise web.HTTPBadRequest(text="seconds must be a number\n") from None
            if not 0 <= seconds <= 60:  # noqa: PLR2004 - a minute is the most a device should ever take
                raise web.HTTPBadRequest(text="seconds must be from 0 to 60\n")
            self.latency = seconds
            return web.Response(text=f"every answer takes {seconds:g} s\n")

        return [
            web.route("*", MOVED_PATH, moved),
            web.post("/_sim/fault", set_fault),
            web.get("/_sim/messages", list_messages),
            web.get("/_sim/stats", get_stats),
            web.post("/_sim/latency", set_latency),
        ]

    def make_app(self) -> web.Application:
        """Build the aiohttp application."""
        app = web.Application(middlewares=[self.middleware])
        app.add_routes(self.routes())
        app.add_routes(self.control_routes())
        return app

    def routes(self) -> list[web.RouteDef]:
        """Return the provider's own routes."""
        raise NotImplementedError
