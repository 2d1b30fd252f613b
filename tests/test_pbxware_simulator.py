"""The PBXware simulator enforces its vendor document, whoever the client is."""

from __future__ import annotations

import base64
from collections.abc import AsyncGenerator
from typing import Any

import aiohttp
import pytest
from yarl import URL

from simulators.base import Fault
from simulators.pbxware import PHP_NOTICE, ApiKey, PbxwareSimulator, Tenant

from .conftest import RunningSimulator, _serve, serving

KEY = "ha-alerts-key"
SEND = {"apikey": KEY, "action": "pbxware.sms.send_message", "server": "1"}
HELLO = base64.b64encode(b"Hello").decode()
EXT_PATH = "/api/sms/notifications/voicemail"


@pytest.fixture
async def pbxware(socket_enabled: None) -> AsyncGenerator[RunningSimulator]:
    """The PBXware simulator on loopback."""
    async with serving(PbxwareSimulator()) as running:
        yield running


async def post(client: aiohttp.ClientSession, url: str, **fields: str) -> tuple[int, Any]:
    """POST form fields to index.php and read the JSON answer."""
    async with client.post(f"{url}/index.php", data=fields) as resp:
        return resp.status, await resp.json(content_type=None)


async def notify(
    client: aiohttp.ClientSession, url: str, payload: Any, *, key: str | None = KEY, **kwargs: Any
) -> tuple[int, str]:
    """POST a JSON notification to the extension endpoint."""
    headers = {} if key is None else {"X-API-Key": key}
    async with client.post(f"{url}{EXT_PATH}", json=payload, headers=headers, **kwargs) as resp:
        return resp.status, await resp.text()


async def test_vendor_get_example_works(socket_enabled: None, client: aiohttp.ClientSession) -> None:
    """The seed's GET request (tenant 59, %2B number, Base64 body) sends the documented text."""
    sim = PbxwareSimulator(
        api_keys={"YOUR_API_KEY": ApiKey(tenants=frozenset({"59"}))},
        tenants={"59": Tenant()},
    )
    runner, url = await _serve(sim)
    try:
        example = (
            f"{url}/?apikey=YOUR_API_KEY&action=pbxware.sms.send_message&server=59&to_number=%2B14165551234"
            "&body=WW91IGhhdmUgcmVjZWl2ZWQgYSBuZXcgdm9pY2VtYWlsLg=="
        )
        async with client.get(URL(example, encoded=True)) as resp:
            assert resp.status == 200
            assert await resp.json() == {"success": "SMS sent", "id": "1"}
    finally:
        await runner.cleanup()
    [message] = sim.messages
    assert (message.provider, message.to, message.text) == (
        "pbxware",
        "+14165551234",
        "You have received a new voicemail.",
    )
    assert message.options == {"from": "+14165550100"}
    assert sim.key_sources == ["query"]


@pytest.mark.parametrize(
    ("fields", "answer"),
    [
        ({}, {"error": "Invalid API key."}),
        ({**SEND, "apikey": "nope", "to_number": "+14165551234", "body": HELLO}, {"error": "Invalid API key."}),
        ({**SEND, "action": "pbxware.nothing"}, {"error": "Unknown action"}),
        (
            {**SEND, "apikey": "sms-only-key", "action": "pbxware.ext.list"},
            {"error": "Permission denied for this action"},
        ),
        ({**SEND, "server": ""}, {"error": "Missing required parameter: server"}),
        ({**SEND, "server": "2"}, {"error": "Invalid server"}),
        ({**SEND, "body": HELLO}, {"error": "Missing required parameter: to_number"}),
        ({**SEND, "to_number": "+14165551234"}, {"error": "Missing required parameter: body"}),
        ({**SEND, "to_number": "0014165551234", "body": HELLO}, {"error": "to_number must be in +E.164 format"}),
        ({**SEND, "to_number": "14165551234", "body": HELLO}, {"error": "to_number must be in +E.164 format"}),
        ({**SEND, "to_number": "+14165551234", "body": "SGVsbG8"}, {"error": "body must be Base64 encoded UTF-8 text"}),
        ({**SEND, "to_number": "+14165551234", "body": "Hello!"}, {"error": "body must be Base64 encoded UTF-8 text"}),
        ({**SEND, "to_number": "+14165551234", "body": "/w=="}, {"error": "body must be Base64 encoded UTF-8 text"}),
        ({**SEND, "to_number": "+14165551234", "body": HELLO}, {"success": "SMS sent", "id": "1"}),
    ],
)
async def test_documented_answers(
    pbxware: RunningSimulator, client: aiohttp.ClientSession, fields: dict[str, str], answer: dict[str, str]
) -> None:
    """Key first, then the action's permission, the tenant, the parameters; every error is HTTP 200."""
    assert await post(client, pbxware.url, **fields) == (200, answer)


async def test_unencoded_plus_is_a_space(pbxware: RunningSimulator, client: aiohttp.ClientSession) -> None:
    """As in PHP, a raw '+' in a query string is a space: the number and a Base64 '+' break."""
    body = base64.b64encode(b">>>?").decode()
    assert "+" in body
    raw = f"{pbxware.url}/?apikey={KEY}&action=pbxware.sms.send_message&server=1&to_number=%2B14165551234&body={body}"
    async with client.get(URL(raw, encoded=True)) as resp:
        assert await resp.json() == {"error": "body must be Base64 encoded UTF-8 text"}
    raw = f"{pbxware.url}/?apikey={KEY}&action=pbxware.sms.send_message&server=1&to_number=+14165551234&body={HELLO}"
    async with client.get(URL(raw, encoded=True)) as resp:
        assert await resp.json() == {"error": "to_number must be in +E.164 format"}


async def test_key_limited_to_other_tenants(pbxware: RunningSimulator, client: aiohttp.ClientSession) -> None:
    """A key may touch only its tenants."""
    pbxware.sim.tenants["2"] = Tenant()
    pbxware.sim.api_keys["t2"] = ApiKey(tenants=frozenset({"2"}))
    fields = {**SEND, "apikey": "t2", "to_number": "+14165551234", "body": HELLO}
    assert await post(client, pbxware.url, **fields) == (200, {"error": "Tenant not allowed for this API key"})
    assert (await post(client, pbxware.url, **{**fields, "server": "2"}))[1]["success"] == "SMS sent"


async def test_suspended_key_is_invalid(pbxware: RunningSimulator, client: aiohttp.ClientSession) -> None:
    """A key suspended for inactivity answers like an unknown key (assumed)."""
    pbxware.sim.api_keys[KEY].suspended = True
    assert await post(client, pbxware.url, apikey=KEY, action="pbxware.license.info") == (
        200,
        {"error": "Invalid API key."},
    )


@pytest.mark.parametrize(
    ("settings", "error"),
    [
        ({"sms_api_enabled": False, "sms_active": False, "sender_number": None}, "SMS API is disabled"),
        (
            {"sms_active": False, "sender_number": None},
            "Action sms_message returned with error: ERR: SMS not enabled for this tenant: ",
        ),
        ({"sender_number": None}, "Invalid or missing sender SMS number"),
        ({"sender_number": ""}, "Invalid or missing sender SMS number"),
    ],
)
async def test_tenant_settings_in_order(
    pbxware: RunningSimulator, client: aiohttp.ClientSession, settings: dict[str, Any], error: str
) -> None:
    """Enable SMS API, then Active, then the sender number; nothing is recorded."""
    for name, value in settings.items():
        setattr(pbxware.sim.tenants["1"], name, value)
    fields = {**SEND, "to_number": "+14165551234", "body": HELLO}
    assert await post(client, pbxware.url, **fields) == (200, {"error": error})
    assert pbxware.sim.messages == []


async def test_disabled_api_comes_before_parameter_checks(
    pbxware: RunningSimulator, client: aiohttp.ClientSession
) -> None:
    """With the SMS API off, even a bad request hears only that."""
    pbxware.sim.tenants["1"].sms_api_enabled = False
    assert await post(client, pbxware.url, **SEND) == (200, {"error": "SMS API is disabled"})


async def test_extension_list_and_license(pbxware: RunningSimulator, client: aiohttp.ClientSession) -> None:
    """ext.list is an object keyed by extension id ([] when empty); license.info needs no server.

    Each row and the license carry the fields the vendor's Postman collection checks, all strings
    (bicomsystems/PBXware-API-Documentation: "Listing Extensions" and "License Information" tests).
    """
    status, listing = await post(client, pbxware.url, apikey=KEY, action="pbxware.ext.list", server="1")
    assert status == 200
    assert sorted(row["ext"] for row in listing.values()) == ["1001", "1002"]
    checked = ("name", "email", "protocol", "ext", "location", "ua_id", "ua_name", "ua_fullname", "status")
    for row in listing.values():
        assert all(isinstance(row[name], str) for name in (*checked, "linenum", "user_location"))
    pbxware.sim.tenants["1"].extensions = {}
    assert await post(client, pbxware.url, apikey=KEY, action="pbxware.ext.list", server="1") == (200, [])
    _, info = await post(client, pbxware.url, apikey=KEY, action="pbxware.license.info")
    assert "error" not in info
    assert all(isinstance(info[name], str) for name in ("Edition", "Version", "Channels"))


async def test_both_paths_and_methods(pbxware: RunningSimulator, client: aiohttp.ClientSession) -> None:
    """The action API answers at / and /index.php, GET or POST, and records where the key was."""
    params = {"apikey": KEY, "action": "pbxware.license.info"}
    async with client.post(f"{pbxware.url}/", data=params) as resp:
        assert "error" not in await resp.json()
    async with client.get(f"{pbxware.url}/index.php", params=params) as resp:
        assert "error" not in await resp.json()
    async with client.post(
        f"{pbxware.url}/index.php", params={"action": "pbxware.license.info"}, data={"apikey": KEY}
    ) as resp:
        assert "error" not in await resp.json()
    assert pbxware.sim.key_sources == ["form", "query", "form"]


async def test_notification_to_extension(pbxware: RunningSimulator, client: aiohttp.ClientSession) -> None:
    """The seed's voicemail endpoint sends to the extension's SMS number, from the sender number."""
    status, body = await notify(client, pbxware.url, {"extension": "1001", "message": "New voicemail received"})
    assert (status, body) == (200, '{"success": "SMS sent", "id": "1"}')
    [message] = pbxware.sim.messages
    assert (message.to, message.text, message.options) == (
        "+14165551234",
        "New voicemail received",
        {"extension": "1001"},
    )
    assert pbxware.sim.key_sources == ["header"]


@pytest.mark.parametrize(
    ("key", "payload", "error", "rest_status"),
    [
        (None, {"extension": "1001", "message": "m"}, "Invalid API key", 401),
        ("nope", {"extension": "1001", "message": "m"}, "Invalid API key", 401),
        ("list-only-key", {"extension": "1001", "message": "m"}, "Permission denied for this action", 403),
        (KEY, {"extension": "1001"}, "Invalid request: a JSON body with extension and message is required", 400),
        (KEY, {"extension": 1001, "message": "m"}, "Invalid request: a JSON body", 400),
        (KEY, ["1001", "m"], "Invalid request: a JSON body", 400),
        (KEY, {"extension": "4711", "message": "m"}, "Extension not found", 422),
        (KEY, {"extension": "1002", "message": "m"}, "Destination does not have an assigned SMS number", 400),
    ],
)
@pytest.mark.parametrize("rest", [False, True], ids=["http 200", "rest statuses"])
async def test_notification_refusals(
    pbxware: RunningSimulator,
    client: aiohttp.ClientSession,
    key: str | None,
    payload: Any,
    error: str,
    rest_status: int,
    rest: bool,
) -> None:
    """Key, right, request, extension and its SMS number are checked; errors are 200 unless REST mode is on."""
    pbxware.sim.api_keys["list-only-key"] = ApiKey(rights=frozenset({"ext_list"}))
    pbxware.sim.ext_error_status = rest
    status, body = await notify(client, pbxware.url, payload, key=key)
    assert status == (rest_status if rest else 200)
    assert body.startswith(f'{{"error": "{error}')
    assert pbxware.sim.messages == []


async def test_notification_needs_json(pbxware: RunningSimulator, client: aiohttp.ClientSession) -> None:
    """A form body or broken JSON is refused."""
    async with client.post(
        f"{pbxware.url}{EXT_PATH}", data={"extension": "1001", "message": "m"}, headers={"X-API-Key": KEY}
    ) as resp:
        assert (await resp.json())["error"].startswith("Invalid request")
    async with client.post(
        f"{pbxware.url}{EXT_PATH}", data=b"{", headers={"X-API-Key": KEY, "Content-Type": "application/json"}
    ) as resp:
        assert (await resp.json())["error"].startswith("Invalid request")


async def test_notification_follows_tenant_settings(pbxware: RunningSimulator, client: aiohttp.ClientSession) -> None:
    """The endpoint obeys the same SMS settings as the action API."""
    pbxware.sim.tenants["1"].sms_active = False
    _, body = await notify(client, pbxware.url, {"extension": "1001", "message": "m"})
    assert "SMS not enabled for this tenant" in body


async def test_endpoint_can_be_missing(pbxware: RunningSimulator, client: aiohttp.ClientSession) -> None:
    """An older PBX answers 404; the endpoint takes POST only."""
    async with client.get(f"{pbxware.url}{EXT_PATH}") as resp:
        assert resp.status == 405
    pbxware.sim.ext_endpoint = False
    status, _ = await notify(client, pbxware.url, {"extension": "1001", "message": "m"})
    assert status == 404


async def test_php_notice_modes(pbxware: RunningSimulator, client: aiohttp.ClientSession) -> None:
    """A notice before the JSON, or a notice alone, as PHP with html_errors prints it."""
    params = {"apikey": KEY, "action": "pbxware.license.info"}
    pbxware.sim.php_notice = True
    async with client.post(f"{pbxware.url}/index.php", data=params) as resp:
        text = await resp.text()
    assert text.startswith(PHP_NOTICE + "{")
    assert "<b>Notice</b>:  Undefined index" in text
    pbxware.sim.notice_without_json = True
    async with client.post(f"{pbxware.url}/index.php", data=params) as resp:
        assert await resp.text() == PHP_NOTICE


async def test_faults_and_ids(pbxware: RunningSimulator, client: aiohttp.ClientSession) -> None:
    """Faults of the base class apply to the next requests; each sent message gets the next id."""
    pbxware.sim.fail(Fault.HTTP_503, times=1)
    fields = {**SEND, "to_number": "+14165551234", "body": HELLO}
    async with client.post(f"{pbxware.url}/index.php", data=fields) as resp:
        assert resp.status == 503
    assert await post(client, pbxware.url, **fields) == (200, {"success": "SMS sent", "id": "1"})
    assert (await notify(client, pbxware.url, {"extension": "1001", "message": "m"}))[1].endswith('"id": "2"}')
    assert [r.status for r in pbxware.sim.requests] == [503, 200, 200]
