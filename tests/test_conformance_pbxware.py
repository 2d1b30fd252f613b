"""PBXware as its vendor documents it and its public clients use it, and our client in that form.

Each replayed request names its source. The simulator runs in its strict mode (`query_only`): like a
PBX that reads only the query string, it sees nothing a client puts in a POST body.

Sources:
- API: the vendor's API documentation, in the overview of its official Postman collection
  (bicomsystems/PBXware-API-Documentation: PBXwareAPI_Doc.postman_collection.json): "Both the API key
  and all other necessary arguments are sent as part of HTTP GET or HTTP POST request", the sample
  `GET /?apikey=my.secret.apikey&action=pbxware.did.list`, `apiformat`, and `{"error": "Invalid API key."}`.
- POSTMAN: the same collection's requests (every one a GET to `/index.php` with a query string) and
  their tests (HTTP 200 always; an `error` key means failure; the fields checked on listings).
- SEED: the SMS Notifications page (seed 004): "parameters are passed via query string (GET or POST)",
  and its `pbxware.sms.send_message` example with a Base64 body.
- GO: a Go client for load testing (SwarmDialer's pbxware package): `GET <base>/?` + `url.Values.Encode()`,
  which sorts the parameters (`action` before `apikey`) and writes `+` as `%2B`.
- JAVA: a Java client that adds `app=pbxware` to its GET query.
"""

from __future__ import annotations

import base64
import traceback
from collections.abc import AsyncGenerator
from typing import Any
from urllib.parse import urlencode

import aiohttp
import pytest
from aiohttp import web
from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry
from yarl import URL

from custom_components.sms_alerts.api.base import (
    AuthError,
    EntryRejectedError,
    OutboundSms,
    Outcome,
    Target,
    TargetKind,
    TransientError,
)
from custom_components.sms_alerts.api.pbxware import MAX_QUERY_BYTES, PbxwareProvider
from custom_components.sms_alerts.const import DOMAIN
from simulators.pbxware import INVALID_API_KEY, ApiKey, PbxwareSimulator

from .conftest import RunningSimulator, _serve, send, serving

KEY = "ha-alerts-key"
NUMBER = Target(kind=TargetKind.NUMBER, value="+14165551234")
EXT_1001 = Target(kind=TargetKind.EXTENSION, value="1001")
LONG_TEXT = ("Внимание: температура морозильника выше нормы! " * 90)[:4000]
VOICEMAIL = "WW91IGhhdmUgcmVjZWl2ZWQgYSBuZXcgdm9pY2VtYWlsLg=="  # seed 004's example body


@pytest.fixture
async def strict(socket_enabled: None) -> AsyncGenerator[RunningSimulator]:
    """A PBX whose action API reads only the query string."""
    async with serving(PbxwareSimulator(query_only=True)) as running:
        yield running


async def get(client: aiohttp.ClientSession, url: str) -> tuple[int, Any]:
    """GET an address exactly as written and read the JSON answer."""
    async with client.get(URL(url, encoded=True)) as resp:
        return resp.status, await resp.json(content_type=None)


# The public clients' and the vendor's request shapes


async def test_api_sample_get_at_the_root(strict: RunningSimulator, client: aiohttp.ClientSession) -> None:
    """API: `GET /?apikey=…&action=…` at the root path answers JSON."""
    status, info = await get(client, f"{strict.url}/?apikey={KEY}&action=pbxware.license.info")
    assert status == 200
    assert all(isinstance(info[name], str) for name in ("Edition", "Version", "Channels"))


async def test_postman_listing_extensions(strict: RunningSimulator, client: aiohttp.ClientSession) -> None:
    """POSTMAN "Listing Extensions": an object keyed by id whose rows carry the checked string fields."""
    status, listing = await get(client, f"{strict.url}/index.php?apikey={KEY}&action=pbxware.ext.list&server=1")
    assert status == 200
    checked = ("name", "email", "protocol", "ext", "location", "ua_id", "ua_name", "ua_fullname", "status")
    for ext_id, row in listing.items():
        assert ext_id.isdigit()
        assert all(isinstance(row[name], str) for name in (*checked, "linenum", "user_location"))


@pytest.mark.parametrize("key", ["", "Wr0ngKey"], ids=["no key", "wrong key"])
async def test_api_error_for_a_bad_key_is_http_200(
    strict: RunningSimulator, client: aiohttp.ClientSession, key: str
) -> None:
    """API "Handling errors" and POSTMAN's tests: HTTP 200 with `{"error": "Invalid API key."}`."""
    answer = await get(client, f"{strict.url}/index.php?apikey={key}&action=pbxware.ext.list&server=1")
    assert answer == (200, {"error": "Invalid API key."})


async def test_go_client_sorted_parameters(strict: RunningSimulator, client: aiohttp.ClientSession) -> None:
    """GO: `url.Values.Encode()` sorts the names and escapes `+`: the order does not matter."""
    query = urlencode(sorted({"apikey": KEY, "action": "pbxware.ext.list", "server": "1"}.items()))
    assert query.startswith("action=")
    status, listing = await get(client, f"{strict.url}/?{query}")
    assert status == 200
    assert "error" not in listing


async def test_java_client_extra_parameter(strict: RunningSimulator, client: aiohttp.ClientSession) -> None:
    """JAVA: an extra `app=pbxware` is ignored."""
    status, info = await get(client, f"{strict.url}/?app=pbxware&apikey={KEY}&action=pbxware.license.info")
    assert status == 200
    assert "error" not in info


async def test_api_format_json(strict: RunningSimulator, client: aiohttp.ClientSession) -> None:
    """API: `apiformat=json` is the default format, asked for explicitly."""
    status, info = await get(client, f"{strict.url}/?apikey={KEY}&action=pbxware.license.info&apiformat=json")
    assert status == 200
    assert "Edition" in info


@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_seed_send_in_the_query_string(socket_enabled: None, client: aiohttp.ClientSession, method: str) -> None:
    """SEED: the send's parameters in the query string, by GET or by a POST with an empty body."""
    sim = PbxwareSimulator(query_only=True, api_keys={"YOUR_API_KEY": ApiKey(tenants=frozenset({"59"}))})
    sim.tenants["59"] = sim.tenants.pop("1")
    runner, url = await _serve(sim)
    try:
        address = (
            f"{url}/?apikey=YOUR_API_KEY&action=pbxware.sms.send_message&server=59"
            f"&to_number=%2B14165551234&body={VOICEMAIL}"
        )
        async with client.request(method, URL(address, encoded=True)) as resp:
            assert (resp.status, await resp.json()) == (200, {"success": "SMS sent", "id": "1"})
    finally:
        await runner.cleanup()
    [message] = sim.messages
    assert (message.to, message.text) == ("+14165551234", "You have received a new voicemail.")


async def test_a_key_in_a_post_body_is_not_seen_by_a_query_only_pbx(
    strict: RunningSimulator, client: aiohttp.ClientSession
) -> None:
    """The form SMS Alerts sent before (every field in a POST body) is refused by such a PBX."""
    fields = {"apikey": KEY, "action": "pbxware.sms.send_message", "server": "1", "to_number": "+14165551234"}
    async with client.post(f"{strict.url}/index.php", data={**fields, "body": VOICEMAIL}) as resp:
        assert (resp.status, await resp.json()) == (200, {"error": INVALID_API_KEY})
    assert strict.sim.messages == []


async def test_a_lenient_pbx_reads_the_body_too(socket_enabled: None, client: aiohttp.ClientSession) -> None:
    """A PBX that reads both (PHP's `$_REQUEST`) takes the same POST: the simulator's default."""
    sim = PbxwareSimulator()
    runner, url = await _serve(sim)
    try:
        fields = {"apikey": KEY, "action": "pbxware.sms.send_message", "server": "1", "to_number": "+14165551234"}
        async with client.post(f"{url}/index.php", data={**fields, "body": VOICEMAIL}) as resp:
            assert (await resp.json())["success"] == "SMS sent"
    finally:
        await runner.cleanup()


# Our client in the documented form


def make(session: aiohttp.ClientSession, url: str, **config: Any) -> PbxwareProvider:
    """Our client for the simulator."""
    return PbxwareProvider.from_config(session, {"url": url, "api_key": KEY, "server": "1", **config}, timeout=5)


async def test_our_requests_are_documented_gets(strict: RunningSimulator, client: aiohttp.ClientSession) -> None:
    """The credential check and a send are GETs to /index.php with every parameter in the query string."""
    provider = make(client, strict.url)
    await provider.async_validate()
    receipts = await provider.async_send(OutboundSms(text="UPS on battery +50% & 'quotes'"), [NUMBER])
    assert receipts[0].outcome is Outcome.SENT
    action_requests = [r for r in strict.sim.requests if r.path == "/index.php"]
    assert [(r.method, r.form) for r in action_requests] == [("GET", {}), ("GET", {})]
    assert action_requests[1].query["to_number"] == "+14165551234"
    assert strict.sim.messages[0].text == "UPS on battery +50% & 'quotes'"
    assert strict.sim.key_sources == ["query", "query"]


async def test_a_long_text_goes_out_in_parts_that_each_fit_a_url(
    strict: RunningSimulator, client: aiohttp.ClientSession
) -> None:
    """4,000 Cyrillic characters (2 UTF-8 bytes each) would make a 10 KB URL: numbered parts instead."""
    text = LONG_TEXT
    provider = make(client, strict.url)
    parts = provider.texts_sent(text)
    assert len(parts) > 1
    assert parts[0].startswith(f"(1/{len(parts)}) ")
    receipts = await provider.async_send(OutboundSms(text=text), [NUMBER])
    assert receipts[0].outcome is Outcome.SENT
    assert [m.text for m in strict.sim.messages] == parts
    for request in strict.sim.requests:
        assert len(urlencode(request.query).encode()) <= MAX_QUERY_BYTES
    assert provider.texts_sent("Disk full") == ["Disk full"]


@pytest.mark.allow_traceback  # aiohttp's server logs the refused request line
async def test_a_long_text_that_the_server_would_refuse_whole(
    strict: RunningSimulator, client: aiohttp.ClientSession
) -> None:
    """The same text in one GET is refused before the PBX could read it.

    Its request line passes the 8,190 bytes of the simulator's server (aiohttp's limit, also Apache's
    LimitRequestLine default).
    """
    text = LONG_TEXT
    query = urlencode({"apikey": KEY, "action": "pbxware.sms.send_message", "server": "1", "to_number": "+1"})
    body = base64.b64encode(text.encode()).decode()
    async with client.get(URL(f"{strict.url}/index.php?{query}&body={body}", encoded=True)) as resp:
        assert len(resp.url.raw_path_qs) > 8190
        assert resp.status == 400
    assert strict.sim.messages == []


# The key in the URL never leaves


@pytest.fixture
async def redirecting(socket_enabled: None) -> AsyncGenerator[str]:
    """A server that redirects every request to https, keeping the query string (and so the key)."""

    async def moved(request: web.Request) -> web.Response:
        raise web.HTTPMovedPermanently(f"https://pbx.example.com{request.path_qs}")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", moved)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    yield f"http://127.0.0.1:{port}"
    await runner.cleanup()


def _everything(err: BaseException) -> str:
    """What a traceback prints of an error and the errors chained to it (not the source lines)."""
    texts: list[str] = []
    current: BaseException | None = err
    while current is not None and len(texts) < 10:
        texts.extend(traceback.format_exception_only(current))
        texts.append(repr(current))
        current = current.__cause__ or current.__context__
    return "".join(texts)


async def test_a_redirect_keeping_the_query_does_not_show_the_key(
    redirecting: str, client: aiohttp.ClientSession
) -> None:
    """The error names where the PBX redirects to, without the query string that carries the key."""
    with pytest.raises(EntryRejectedError) as err:
        await make(client, redirecting).async_validate()
    assert "https://pbx.example.com/index.php" in err.value.reason
    assert KEY not in _everything(err.value)


async def test_an_unreachable_pbx_error_carries_no_url(closed_url: str, client: aiohttp.ClientSession) -> None:
    """The error of aiohttp names the URL: it is not chained, and nothing printed holds the key."""
    with pytest.raises(TransientError) as err:
        await make(client, closed_url).async_validate()
    assert err.value.__cause__ is None
    assert KEY not in _everything(err.value)


async def test_a_refused_key_error_carries_no_key(strict: RunningSimulator, client: aiohttp.ClientSession) -> None:
    """A key the PBX refuses is an auth error whose text does not repeat it."""
    with pytest.raises(AuthError) as err:
        await make(client, strict.url, api_key="Wr0ngKeyValue").async_validate()
    assert "Wr0ngKeyValue" not in _everything(err.value)


async def test_key_in_no_log_at_any_level_when_the_pbx_is_down(
    hass: HomeAssistant, closed_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Set up, send, fail and retry with every logger at debug: the key appears in no record."""
    caplog.set_level("DEBUG")
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="PBXware",
        data={"provider": "pbxware", "url": closed_url, "api_key": KEY, "server": "1", "verify_ssl": True},
        unique_id="pbx:1",
    )
    entry.add_to_hass(hass)
    await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    response = await send(hass, entry, message="Disk full", target=["+14165551234"])
    assert response["results"][0]["status"] == "queued"
    assert KEY not in caplog.text
    for record in caplog.records:
        assert KEY not in repr(record.args)
        if record.exc_info and record.exc_info[1] is not None:
            assert KEY not in _everything(record.exc_info[1])


async def test_query_only_switch_at_run_time(socket_enabled: None, client: aiohttp.ClientSession) -> None:
    """/_sim/query_only turns the strict mode on and off for scripts/develop."""
    sim = PbxwareSimulator()
    runner, url = await _serve(sim)
    fields = {"apikey": KEY, "action": "pbxware.license.info"}
    try:
        async with client.post(f"{url}/_sim/query_only", params={"enabled": "1"}) as resp:
            assert await resp.text() == "query string only: on\n"
        async with client.post(f"{url}/index.php", data=fields) as resp:
            assert await resp.json() == {"error": INVALID_API_KEY}
        async with client.post(f"{url}/_sim/query_only", params={"enabled": "0"}) as resp:
            assert await resp.text() == "query string only: off\n"
        async with client.post(f"{url}/index.php", data=fields) as resp:
            assert "Edition" in await resp.json()
    finally:
        await runner.cleanup()
