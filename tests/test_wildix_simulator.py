"""The Wildix simulator enforces its vendor documents, whoever the client is."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

import aiohttp
import pytest

from custom_components.sms_alerts.api.wildix_auth import basic_auth
from simulators.wildix import WildixSimulator

from .conftest import RunningSimulator, serving

LOGIN = basic_auth("101", "sms101api")


def _headers(auth: str | None) -> dict[str, str]:
    """Send a Basic login, or none."""
    return {"Authorization": auth} if auth else {}


SEND = "/api/v1/originate/sms"
INFO = "/api/v1/personal/info"


@pytest.fixture
async def wildix(socket_enabled: None) -> AsyncGenerator[RunningSimulator]:
    """The Wildix simulator on loopback."""
    async with serving(WildixSimulator()) as running:
        yield running


async def post(client: aiohttp.ClientSession, url: str, auth: str | None = LOGIN, **fields: str) -> tuple[int, Any]:
    """POST form fields to originate/sms and return status and JSON body."""
    async with client.post(f"{url}{SEND}", data=fields, headers=_headers(auth)) as resp:
        return resp.status, await resp.json()


def error(reason: str) -> dict[str, Any]:
    """The documented error body."""
    return {"type": "error", "reason": reason, "result": None}


@pytest.mark.parametrize(
    ("fields", "body"),
    [
        ({"number": "+39123456789", "message": "hi"}, {"type": "result", "result": "Success"}),
        ({"number": "+39123456789,+39123456780", "message": "hi"}, {"type": "result", "result": "Success"}),
        ({"number": "+39123456789"}, error("Message should not be empty")),
        ({"message": "hi"}, error("Number should not be empty")),
        ({"number": "", "message": "hi"}, error("Number should not be empty")),
        ({"number": "39123456789", "message": "hi"}, error("Wrong number format")),
        ({"number": "+39123456789,0039123", "message": "hi"}, error("Wrong number format")),
        ({"number": "+39123456789", "message": "x" * 671}, error("Message is too long")),
        ({"number": "+39123456789", "message": "x" * 670}, {"type": "result", "result": "Success"}),
        ({"number": "+39123456789", "message": "hi", "postpone": "14/07/2014 15:35"}, {"type": "result"}),
        ({"number": "+39123456789", "message": "hi", "postpone": "2014-07-14 15:35"}, error("Wrong postpone")),
        ({"number": "+39123456789", "message": "hi", "postpone": "31/02/2030 15:35"}, error("Wrong postpone")),
        ({"number": "+39123456789", "message": "hi", "gsm": "9C7514330001"}, {"type": "result"}),
        ({"number": "+39123456789", "message": "hi", "gsm": "9c:75:14:33:00:01"}, error("Unknown GSM gateway")),
        ({"number": "+39123456789", "message": "hi", "gsm": "9c7514330002"}, error("Unknown GSM gateway")),
    ],
)
async def test_documented_answers(
    wildix: RunningSimulator, client: aiohttp.ClientSession, fields: dict[str, str], body: dict[str, Any]
) -> None:
    """Parameters are checked as the vendor page describes; every answer is HTTP 200 with a JSON type."""
    status, answer = await post(client, wildix.url, **fields)
    assert status == 200
    for key, value in body.items():
        if isinstance(value, str) and key == "reason":
            assert answer[key].startswith(value)
        else:
            assert answer[key] == value


@pytest.mark.parametrize(
    ("auth", "status"),
    [
        (None, 401),
        (basic_auth("101", "wrong"), 401),
        (basic_auth("102", "sms101api"), 401),
    ],
)
async def test_login_is_required(
    wildix: RunningSimulator, client: aiohttp.ClientSession, auth: str | None, status: int
) -> None:
    """Without a valid Basic login both routes answer the old manual's Unauthorized body."""
    assert await post(client, wildix.url, auth=auth, number="+39123456789", message="hi") == (
        status,
        error("Unauthorized"),
    )
    async with client.get(f"{wildix.url}{INFO}", headers=_headers(auth)) as resp:
        assert (resp.status, await resp.json()) == (status, error("Unauthorized"))
    assert wildix.sim.messages == []


async def test_auth_failure_can_be_http_200(wildix: RunningSimulator, client: aiohttp.ClientSession) -> None:
    """The switch answers an auth failure with HTTP 200 and the same body."""
    wildix.sim.auth_failure_status = 200
    assert await post(client, wildix.url, auth=None, number="+39123456789", message="hi") == (
        200,
        error("Unauthorized"),
    )


async def test_credentials_in_the_form_are_not_a_login(wildix: RunningSimulator, client: aiohttp.ClientSession) -> None:
    """Only the Authorization header logs in."""
    status, _ = await post(
        client, wildix.url, auth=None, username="101", password="sms101api", number="+39123456789", message="hi"
    )
    assert status == 401


async def test_personal_info(wildix: RunningSimulator, client: aiohttp.ClientSession) -> None:
    """The user's own record; the switch refuses it like a WMS that keeps it for admins."""
    async with client.get(f"{wildix.url}{INFO}", headers=_headers(LOGIN)) as resp:
        assert await resp.json() == {
            "type": "result",
            "result": {"login": "101", "extension": "101", "name": "Alarm Sender"},
        }
    wildix.sim.personal_info_refused = True
    async with client.get(f"{wildix.url}{INFO}", headers=_headers(LOGIN)) as resp:
        assert (await resp.json())["type"] == "error"


async def test_unencoded_plus_is_refused(wildix: RunningSimulator, client: aiohttp.ClientSession) -> None:
    """A '+' the client did not encode arrives as a space, and the PBX would drop the country code."""
    raw = "number=+39123456789&message=hi"
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    async with client.post(f"{wildix.url}{SEND}", data=raw, headers={**headers, **_headers(LOGIN)}) as resp:
        assert await resp.json() == error("Wrong number format")
    async with client.post(
        f"{wildix.url}{SEND}", data=raw.replace("+", "%2B"), headers={**headers, **_headers(LOGIN)}
    ) as resp:
        assert (await resp.json())["type"] == "result"
    assert [m.to for m in wildix.sim.messages] == ["+39123456789"]


async def test_get_with_query_as_in_the_dialplan_example(
    wildix: RunningSimulator, client: aiohttp.ClientSession
) -> None:
    """GET works too, with parameters in the query."""
    params = {"number": "+33611121314", "message": "the messagebody", "gsm": "9c7514330001"}
    async with client.get(f"{wildix.url}{SEND}", params=params, headers=_headers(LOGIN)) as resp:
        assert (await resp.json())["type"] == "result"
    message = wildix.sim.messages[0]
    assert (message.provider, message.to, message.text) == ("wildix", "+33611121314", "the messagebody")
    assert message.options == {"postpone": None, "gsm": "9c7514330001"}


async def test_quotes_and_slashes_become_spaces(wildix: RunningSimulator, client: aiohttp.ClientSession) -> None:
    """The PBX replaces quotes, backslash and slash with a space; look-alikes pass."""
    await post(
        client, wildix.url, number="+39123456789", message='it\'s "hot" \u201cx\u201d a/b c\\d it\u2019s a\u2215b'
    )
    assert wildix.sim.messages[0].text == "it s  hot   x\u201d a b c d it\u2019s a\u2215b"


async def test_every_number_is_recorded_with_options(wildix: RunningSimulator, client: aiohttp.ClientSession) -> None:
    """A comma list is one message per number, with postpone and the gateway (lower-case)."""
    await post(
        client,
        wildix.url,
        number="+39123456789,+39123456780",
        message="hi",
        postpone="14/07/2014 15:35",
        gsm="9C7514330001",
    )
    assert [(m.to, m.options) for m in wildix.sim.messages] == [
        ("+39123456789", {"postpone": "14/07/2014 15:35", "gsm": "9c7514330001"}),
        ("+39123456780", {"postpone": "14/07/2014 15:35", "gsm": "9c7514330001"}),
    ]


async def test_curl_sms_send_needs_a_gateway(wildix: RunningSimulator, client: aiohttp.ClientSession) -> None:
    """With 'Curl SMS send enabled' the gsm parameter is required."""
    wildix.sim.curl_sms_send_enabled = True
    assert (await post(client, wildix.url, number="+39123456789", message="hi"))[1]["type"] == "error"
    assert (await post(client, wildix.url, number="+39123456789", message="hi", gsm="9c7514330001"))[1]["type"] == (
        "result"
    )


async def test_older_wms_limit(wildix: RunningSimulator, client: aiohttp.ClientSession) -> None:
    """Before WMS 6.02 the limit is 300 characters."""
    wildix.sim.max_length = 300
    assert (await post(client, wildix.url, number="+39123456789", message="x" * 301))[1] == error("Message is too long")
    assert (await post(client, wildix.url, number="+39123456789", message="x" * 300))[1]["type"] == "result"


async def test_warning_lists_the_numbers_not_queued(wildix: RunningSimulator, client: aiohttp.ClientSession) -> None:
    """Numbers the PBX cannot queue come back as digits in a warning; the others are sent."""
    wildix.sim.warning_numbers = {"+39123456780"}
    _, body = await post(client, wildix.url, number="+39123456789,+39123456780,+39123456781", message="hi")
    assert body == {"type": "warning", "reason": "Unable to add a SMS to the queue", "result": ["39123456780"]}
    assert [m.to for m in wildix.sim.messages] == ["+39123456789", "+39123456781"]


async def test_queue_full_answers_the_vendor_example(wildix: RunningSimulator, client: aiohttp.ClientSession) -> None:
    """The switch answers the vendor's own warning example and queues nothing."""
    wildix.sim.queue_full = True
    _, body = await post(client, wildix.url, number="+39123456789", message="hi")
    assert body == {"type": "warning", "reason": "Unable to add a SMS to the queue", "result": ["111"]}
    assert wildix.sim.messages == []


async def test_faults_and_control_routes(wildix: RunningSimulator, client: aiohttp.ClientSession) -> None:
    """A fault set by hand applies to the next request only; the message list is readable."""
    async with client.post(f"{wildix.url}/_sim/fault", params={"name": "http_503", "times": "1"}) as resp:
        assert resp.status == 200
    async with client.post(
        f"{wildix.url}{SEND}", data={"number": "+39123456789", "message": "hi"}, headers=_headers(LOGIN)
    ) as resp:
        assert resp.status == 503
    assert (await post(client, wildix.url, number="+39123456789", message="hi"))[0] == 200
    async with client.get(f"{wildix.url}/_sim/messages") as resp:
        assert [m["to"] for m in await resp.json()] == ["+39123456789"]


def test_simulator_defaults() -> None:
    """The demo login, the demo gateway and the documented switches."""
    sim = WildixSimulator()
    assert sim.name == "wildix"
    assert sim.users == {"101": "sms101api"}
    assert sim.gateways == ["9c7514330001"]
    assert (sim.auth_failure_status, sim.max_length, sim.curl_sms_send_enabled) == (401, 670, False)
