"""The brevis.one simulator enforces its vendor document, whoever the client is."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from .conftest import RunningSimulator

LOGIN = {"username": "apiuser", "password": "secret"}


async def post(client: aiohttp.ClientSession, url: str, **fields: str) -> tuple[int, str]:
    """POST form fields to api.php."""
    async with client.post(f"{url}/api.php", data=fields) as resp:
        return resp.status, await resp.text()


@pytest.mark.parametrize(
    ("fields", "status", "body"),
    [
        ({}, 401, "401 Unauthorized - Username or Password wrong"),
        ({"username": "apiuser", "password": "x", "text": "t", "to": "0049170"}, 401, "401 Unauthorized"),
        ({"username": "webuser", "password": "secret"}, 403, "403 Forbidden - Your User has no right"),
        ({**LOGIN}, 400, "Error: Parameter miss"),
        ({**LOGIN, "text": "t"}, 400, "Error: Parameter miss"),
        ({**LOGIN, "text": "t", "to": "+491701234567"}, 400, "Error. See Gateway logs"),
        ({**LOGIN, "text": "t", "to": "00491701234567", "mode": "group"}, 400, "Error. See Gateway logs"),
        ({**LOGIN, "text": "zz", "to": "00491701234567", "hexmode": "true"}, 400, "Error. See Gateway logs"),
        ({**LOGIN, "text": "t", "to": "00491701234567"}, 200, "OK: message 1 queued"),
        ({**LOGIN, "text": "t", "to": "01701234567", "mode": "bogus"}, 200, "OK"),
    ],
)
async def test_documented_answers(
    gateway: RunningSimulator, client: aiohttp.ClientSession, fields: dict[str, str], status: int, body: str
) -> None:
    """Login first, then the API right, then parameters, then the recipient; invalid modes mean number."""
    answer_status, answer_body = await post(client, gateway.url, **fields)
    assert answer_status == status
    assert answer_body.startswith(body)


async def test_get_with_query_and_hexmode(gateway: RunningSimulator, client: aiohttp.ClientSession) -> None:
    """The vendor's GET and hexmode examples work as documented."""
    params = {**LOGIN, "to": "00491701234567", "text": "48616c6c6f2064696573206973742065696e65205465737420534d53"}
    async with client.get(f"{gateway.url}/api.php", params={**params, "hexmode": "true"}) as resp:
        assert resp.status == 200
    assert gateway.sim.messages[0].text == "Hallo dies ist eine Test SMS"


async def test_modules_can_be_missing(gateway: RunningSimulator, client: aiohttp.ClientSession) -> None:
    """Without the Telegram or recipient-groups module those modes are refused."""
    gateway.sim.telegram_module = False
    gateway.sim.groups_module = False
    assert (await post(client, gateway.url, **LOGIN, text="t", to="00491701234567", mode="telnumber"))[0] == 400
    assert (await post(client, gateway.url, **LOGIN, text="t", to="1", mode="group"))[0] == 400


async def test_check_page_needs_no_login(gateway: RunningSimulator, client: aiohttp.ClientSession) -> None:
    """check.php reports queue, failures, signal and total by key."""
    await post(client, gateway.url, **LOGIN, text="t", to="00491701234567")
    async with client.get(f"{gateway.url}/check.php") as resp:
        lines = dict(line.split(": ", 1) for line in (await resp.text()).splitlines())
    assert lines == {"que": "0", "failed": "0", "signal": "-71 dBm", "total": "1"}


async def test_faults_count_down_and_control_routes(gateway: RunningSimulator, client: aiohttp.ClientSession) -> None:
    """A fault set by hand applies to the next requests only, and the message list is readable."""
    async with client.post(f"{gateway.url}/_sim/fault", params={"name": "http_503", "times": "1"}) as resp:
        assert resp.status == 200
    assert (await post(client, gateway.url, **LOGIN, text="t", to="00491701234567"))[0] == 503
    assert (await post(client, gateway.url, **LOGIN, text="t", to="00491701234567"))[0] == 200
    async with client.get(f"{gateway.url}/_sim/messages") as resp:
        messages = await resp.json()
    assert [m["to"] for m in messages] == ["00491701234567"]


async def test_stats_and_latency_control_routes(gateway: RunningSimulator, client: aiohttp.ClientSession) -> None:
    """/_sim/stats counts requests by path and messages; /_sim/latency slows every answer, within bounds."""
    async with client.post(f"{gateway.url}/_sim/latency", params={"seconds": "0.05"}) as resp:
        assert resp.status == 200
    assert gateway.sim.latency == 0.05
    for bad in ("-1", "61", "soon"):
        async with client.post(f"{gateway.url}/_sim/latency", params={"seconds": bad}) as resp:
            assert resp.status == 400, bad
    first = post(client, gateway.url, **LOGIN, text="t", to="00491701234567")
    second = post(client, gateway.url, **LOGIN, text="u", to="00491701234568")
    assert [status for status, _ in await asyncio.gather(first, second)] == [200, 200]
    async with client.get(f"{gateway.url}/_sim/stats") as resp:
        stats = await resp.json()
    assert stats == {"requests": 2, "messages": 2, "paths": {"/api.php": 2}, "peak_in_flight": 2}
    async with client.get(f"{gateway.url}/_sim/stats") as resp:
        assert (await resp.json())["peak_in_flight"] == 0
