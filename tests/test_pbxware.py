"""The PBXware client against the simulator: request shape, the classification table and the credential check."""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import AsyncGenerator

import aiohttp
import pytest

from custom_components.sms_alerts.api.base import (
    AccountInfo,
    AuthError,
    EntryRejectedError,
    OutboundSms,
    Outcome,
    ProviderError,
    Target,
    TargetKind,
    TargetRejectedError,
    TransientError,
)
from custom_components.sms_alerts.api.pbxware import (
    PbxwareProvider,
    classify,
    encode_body,
    normalize_url,
    parse_payload,
)
from simulators.base import Fault
from simulators.pbxware import PHP_NOTICE, ApiKey, PbxwareSimulator

from .conftest import RunningSimulator, serving

API_KEY = "ha-alerts-key"
NUMBER = Target(kind=TargetKind.NUMBER, value="+420777888999")
EXT_1001 = Target(kind=TargetKind.EXTENSION, value="1001")
EXT_1002 = Target(kind=TargetKind.EXTENSION, value="1002")
EXT_PATH = "/api/sms/notifications/voicemail"


@pytest.fixture
async def pbxware(socket_enabled: None) -> AsyncGenerator[RunningSimulator]:
    """The PBXware simulator on loopback."""
    async with serving(PbxwareSimulator()) as running:
        yield running


def make(session: aiohttp.ClientSession, url: str, *, timeout: float = 5, **config: str) -> PbxwareProvider:
    """Build a client for the simulator with the demo key and tenant unless told otherwise."""
    return PbxwareProvider.from_config(
        session, {"url": url, "api_key": API_KEY, "server": "1", **config}, timeout=timeout
    )


# Credential check


async def test_validate_lists_extensions_without_sending(
    pbxware: RunningSimulator, session: aiohttp.ClientSession
) -> None:
    """The check GETs pbxware.ext.list for the tenant, the key in the query string as documented; nothing is sent."""
    info = await make(session, pbxware.url).async_validate()
    assert info == AccountInfo(unique_id="pbxware:1:1b182acb84ca8054", account="pbxware:1", title="PBXware tenant 1")
    assert pbxware.sim.messages == []
    [request] = pbxware.sim.requests
    assert (request.method, request.path, request.form) == ("GET", "/index.php", {})
    assert request.query == {"apikey": API_KEY, "action": "pbxware.ext.list", "server": "1"}
    assert list(request.query) == ["apikey", "action", "server"]


async def test_validate_passes_on_a_tenant_without_extensions(
    pbxware: RunningSimulator, session: aiohttp.ClientSession
) -> None:
    """ext.list answers [] for a tenant without extensions: still no error, so valid."""
    pbxware.sim.tenants["1"].extensions = {}
    await make(session, pbxware.url).async_validate()


@pytest.mark.parametrize(
    ("api_key", "suspended"),
    [("Wr0ngKey", False), (API_KEY, True)],
    ids=["unknown key", "suspended key"],
)
async def test_validate_refuses_a_bad_key(
    pbxware: RunningSimulator, session: aiohttp.ClientSession, api_key: str, suspended: bool
) -> None:
    """'Invalid API key' (also what a key suspended for inactivity answers) is invalid_auth, with a hint."""
    pbxware.sim.api_keys[API_KEY].suspended = suspended
    with pytest.raises(AuthError) as err:
        await make(session, pbxware.url, api_key=api_key).async_validate()
    assert err.value.key == "invalid_auth"
    assert "suspended" in err.value.reason
    assert "allow-list" in err.value.reason
    assert api_key not in str(err.value)


async def test_validate_accepts_an_sms_only_key(
    pbxware: RunningSimulator, session: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    """A key refused ext.list and license.info is still a valid key: accepted, and logged as limited."""
    provider = make(session, pbxware.url, api_key="sms-only-key")
    with caplog.at_level(logging.INFO):
        info = await provider.async_validate()
    assert info.account_id == "pbxware:1"
    assert [r.query["action"] for r in pbxware.sim.requests] == ["pbxware.ext.list", "pbxware.license.info"]
    assert pbxware.sim.requests[1].query == {"apikey": "sms-only-key", "action": "pbxware.license.info"}
    assert "valid, but limited" in caplog.text
    assert "sms-only-key" not in caplog.text


async def test_validate_falls_back_to_license_info(pbxware: RunningSimulator, session: aiohttp.ClientSession) -> None:
    """A key that may not list extensions but may read the license passes on the second call."""
    pbxware.sim.api_keys["license-key"] = ApiKey(rights=frozenset({"sms", "license"}))
    await make(session, pbxware.url, api_key="license-key").async_validate()
    assert [r.query["action"] for r in pbxware.sim.requests] == ["pbxware.ext.list", "pbxware.license.info"]


async def test_validate_unreachable(closed_url: str, session: aiohttp.ClientSession) -> None:
    """Nothing listening is a transient 'cannot_connect'."""
    with pytest.raises(TransientError) as err:
        await make(session, closed_url).async_validate()
    assert err.value.key == "cannot_connect"


async def test_validate_without_json_is_an_error(pbxware: RunningSimulator, session: aiohttp.ClientSession) -> None:
    """A page without JSON proves nothing: the check fails (the flow shows 'unknown')."""
    pbxware.sim.notice_without_json = True
    with pytest.raises(ProviderError) as err:
        await make(session, pbxware.url).async_validate()
    assert err.value.key == "unexpected_response"


async def test_validate_unknown_tenant_fails_with_the_pbx_text(
    pbxware: RunningSimulator, session: aiohttp.ClientSession
) -> None:
    """Another error of ext.list fails the check with PBXware's own text."""
    with pytest.raises(TargetRejectedError) as err:
        await make(session, pbxware.url, server="77").async_validate()
    assert err.value.reason == "Invalid server"


# Sending


@pytest.mark.parametrize(
    "text",
    [
        "Disk full",
        "Příliš žluťoučký kůň úpěl ďábelské ódy",
        "Alarm 🚨🔥 in the server room",
        'It\'s "hot" / 50% & +1 = 2 \\ back\nline 2\r\nline 3 €',
        ">>>?",  # Base64 with '+' and padding: the form must keep both
        "a?>~",
    ],
)
async def test_number_gets_base64_body_in_the_query_string(
    pbxware: RunningSimulator, session: aiohttp.ClientSession, text: str
) -> None:
    """A number is one GET of pbxware.sms.send_message with +E.164 and Base64 of the UTF-8 text, in the query."""
    receipts = await make(session, pbxware.url).async_send(OutboundSms(text=text), [NUMBER])
    assert receipts[0].outcome is Outcome.SENT
    assert receipts[0].message_id == "1"
    [request] = pbxware.sim.requests
    assert (request.method, request.path, request.form) == ("GET", "/index.php", {})
    assert request.query == {
        "apikey": API_KEY,
        "action": "pbxware.sms.send_message",
        "server": "1",
        "to_number": "+420777888999",
        "body": base64.b64encode(text.encode()).decode(),
    }
    message = pbxware.sim.messages[0]
    assert (message.to, message.text, message.options) == ("+420777888999", text, {"from": "+14165550100"})


def test_body_encoding_is_standard_base64_with_padding() -> None:
    """The vendor's example body decodes to its text, and ours encodes to the vendor's bytes."""
    assert encode_body("You have received a new voicemail.") == "WW91IGhhdmUgcmVjZWl2ZWQgYSBuZXcgdm9pY2VtYWlsLg=="
    assert encode_body(">>>?") == "Pj4+Pw=="


async def test_extension_goes_to_the_notifications_endpoint(
    pbxware: RunningSimulator, session: aiohttp.ClientSession
) -> None:
    """ext:1001 is a JSON POST with X-API-Key; the SMS goes to the extension's SMS number."""
    text = 'Nová hlasová zpráva 📞 "A/B"\nline 2'
    receipts = await make(session, pbxware.url).async_send(OutboundSms(text=text), [EXT_1001])
    assert receipts[0].outcome is Outcome.SENT
    [request] = pbxware.sim.requests
    assert (request.method, request.path, request.query, request.form) == ("POST", EXT_PATH, {}, {})
    assert request.headers["X-API-Key"] == API_KEY
    assert request.headers["Content-Type"] == "application/json"
    message = pbxware.sim.messages[0]
    assert (message.to, message.text, message.options) == ("+14165551234", text, {"extension": "1001"})


async def test_extension_without_sms_number_fails_that_target_only(
    pbxware: RunningSimulator, session: aiohttp.ClientSession
) -> None:
    """'Destination does not have an assigned SMS number' refuses ext:1002; the next target still goes."""
    receipts = await make(session, pbxware.url).async_send(OutboundSms(text="x"), [EXT_1002, NUMBER])
    assert [r.outcome for r in receipts] == [Outcome.TARGET, Outcome.SENT]
    assert receipts[0].error_key == "no_sms_number"
    assert receipts[0].error == "Destination does not have an assigned SMS number"


async def test_unknown_extension_fails_with_the_pbx_text(
    pbxware: RunningSimulator, session: aiohttp.ClientSession
) -> None:
    """Any other error text refuses the target and keeps the PBX's words."""
    receipts = await make(session, pbxware.url).async_send(
        OutboundSms(text="x"), [Target(kind=TargetKind.EXTENSION, value="4711")]
    )
    assert (receipts[0].outcome, receipts[0].error_key) == (Outcome.TARGET, "target_rejected")
    assert receipts[0].error == "Extension not found"


async def test_group_is_refused_without_a_request(pbxware: RunningSimulator, session: aiohttp.ClientSession) -> None:
    """PBXware has no groups or contacts."""
    receipts = await make(session, pbxware.url).async_send(
        OutboundSms(text="x"), [Target(kind=TargetKind.GROUP, value="Oncall")]
    )
    assert (receipts[0].outcome, receipts[0].error_key) == (Outcome.TARGET, "unsupported_target")
    assert pbxware.sim.requests == []


@pytest.mark.parametrize(
    ("setting", "value", "key", "reason"),
    [
        ("sms_api_enabled", False, "sms_api_disabled", "SMS API is disabled"),
        ("sms_active", False, "sms_not_enabled", "SMS not enabled for this tenant"),
        ("sender_number", None, "invalid_sender", "Invalid or missing sender SMS number"),
    ],
)
@pytest.mark.parametrize("target", [NUMBER, EXT_1001], ids=["number", "extension"])
async def test_tenant_settings_stop_the_batch(
    pbxware: RunningSimulator,
    session: aiohttp.ClientSession,
    setting: str,
    value: object,
    key: str,
    reason: str,
    target: Target,
) -> None:
    """Each documented settings error is an entry problem with its own key; the other targets wait."""
    setattr(pbxware.sim.tenants["1"], setting, value)
    receipts = await make(session, pbxware.url).async_send(OutboundSms(text="x"), [target, NUMBER])
    assert [r.outcome for r in receipts] == [Outcome.CONFIG, Outcome.CONFIG]
    assert [r.error_key for r in receipts] == [key, key]
    assert reason in (receipts[0].error or "")
    assert len(pbxware.sim.requests) == 1


@pytest.mark.parametrize("target", [NUMBER, EXT_1001], ids=["number", "extension"])
async def test_key_without_sms_right_is_an_entry_problem(
    pbxware: RunningSimulator, session: aiohttp.ClientSession, target: Target
) -> None:
    """A key without the SMS right is 'no_api_permission' for the entry; the other targets wait."""
    pbxware.sim.api_keys["list-only-key"] = ApiKey(rights=frozenset({"ext_list"}))
    provider = make(session, pbxware.url, api_key="list-only-key")
    receipts = await provider.async_send(OutboundSms(text="x"), [target, NUMBER])
    assert [r.outcome for r in receipts] == [Outcome.CONFIG, Outcome.CONFIG]
    assert receipts[0].error_key == "no_api_permission"
    assert len(pbxware.sim.requests) == 1


async def test_key_without_the_tenant_is_an_entry_problem(
    pbxware: RunningSimulator, session: aiohttp.ClientSession
) -> None:
    """A key that may not touch the entry's tenant is 'no_api_permission' too."""
    pbxware.sim.tenants["2"] = pbxware.sim.tenants["1"]
    pbxware.sim.api_keys["other-tenant-key"] = ApiKey(tenants=frozenset({"2"}))
    receipts = await make(session, pbxware.url, api_key="other-tenant-key").async_send(OutboundSms(text="x"), [NUMBER])
    assert (receipts[0].outcome, receipts[0].error_key) == (Outcome.CONFIG, "no_api_permission")
    assert receipts[0].error == "Tenant not allowed for this API key"


@pytest.mark.parametrize("target", [NUMBER, EXT_1001], ids=["number", "extension"])
async def test_refused_key_on_send_stops_the_batch(
    pbxware: RunningSimulator, session: aiohttp.ClientSession, target: Target
) -> None:
    """'Invalid API key' at send time is an auth error: reauth, and no further requests."""
    pbxware.sim.api_keys[API_KEY].suspended = True
    receipts = await make(session, pbxware.url).async_send(OutboundSms(text="x"), [target, NUMBER])
    assert [r.outcome for r in receipts] == [Outcome.AUTH, Outcome.AUTH]
    assert receipts[0].error_key == "invalid_auth"
    assert len(pbxware.sim.requests) == 1


@pytest.mark.parametrize("target", [NUMBER, EXT_1001], ids=["number", "extension"])
async def test_php_notice_before_the_json_is_skipped(
    pbxware: RunningSimulator, session: aiohttp.ClientSession, target: Target
) -> None:
    """A PHP notice printed before the answer does not hide it: success and errors are both read."""
    pbxware.sim.php_notice = True
    provider = make(session, pbxware.url)
    receipts = await provider.async_send(OutboundSms(text="x"), [target])
    assert (receipts[0].outcome, receipts[0].message_id) == (Outcome.SENT, "1")
    pbxware.sim.tenants["1"].sender_number = None
    receipts = await provider.async_send(OutboundSms(text="x"), [target])
    assert (receipts[0].outcome, receipts[0].error_key) == (Outcome.CONFIG, "invalid_sender")


async def test_php_notice_without_json_is_an_unexpected_response(
    pbxware: RunningSimulator, session: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    """A notice and nothing else refuses the target as 'unexpected response'; the body goes to debug."""
    pbxware.sim.notice_without_json = True
    receipts = await make(session, pbxware.url).async_send(OutboundSms(text="x"), [NUMBER, EXT_1001])
    assert [r.outcome for r in receipts] == [Outcome.TARGET, Outcome.TARGET]
    assert [r.error_key for r in receipts] == ["unexpected_response", "unexpected_response"]
    assert receipts[0].error == "unexpected response from the PBX"
    assert "Undefined index" in caplog.text


async def test_missing_extension_endpoint_is_a_target_error(
    pbxware: RunningSimulator, session: aiohttp.ClientSession
) -> None:
    """A PBX without /api/sms/notifications/voicemail (404) refuses extensions; numbers still go."""
    pbxware.sim.ext_endpoint = False
    receipts = await make(session, pbxware.url).async_send(OutboundSms(text="x"), [EXT_1001, NUMBER])
    assert [r.outcome for r in receipts] == [Outcome.TARGET, Outcome.SENT]
    assert receipts[0].error_key == "no_extension_endpoint"
    assert receipts[0].error == "this PBX has no extension SMS endpoint"


@pytest.mark.parametrize(
    ("change", "target", "outcome", "key"),
    [
        ("bad_key", EXT_1001, Outcome.AUTH, "invalid_auth"),
        ("no_right", EXT_1001, Outcome.CONFIG, "no_api_permission"),
        ("none", EXT_1002, Outcome.TARGET, "no_sms_number"),
        ("none", Target(kind=TargetKind.EXTENSION, value="4711"), Outcome.TARGET, "target_rejected"),
    ],
)
async def test_extension_endpoint_with_rest_statuses(
    pbxware: RunningSimulator,
    session: aiohttp.ClientSession,
    change: str,
    target: Target,
    outcome: Outcome,
    key: str,
) -> None:
    """If the JSON endpoint answers errors with 401, 403, 400 or 422, the text still decides."""
    pbxware.sim.ext_error_status = True
    pbxware.sim.api_keys["list-only-key"] = ApiKey(rights=frozenset({"ext_list"}))
    api_key = {"bad_key": "Wr0ngKey", "no_right": "list-only-key"}.get(change, API_KEY)
    receipts = await make(session, pbxware.url, api_key=api_key).async_send(OutboundSms(text="x"), [target])
    assert (receipts[0].outcome, receipts[0].error_key) == (outcome, key)


@pytest.mark.parametrize(
    ("fault", "key", "reason"),
    [
        (Fault.HTTP_503, "server_error", "HTTP 503 from the PBX"),
        (Fault.HTML_500, "server_error", "HTTP 500 from the PBX"),
        (Fault.RESET, "cannot_connect", "cannot reach the device"),
        (Fault.SLOW, "timeout", "a duplicate is possible"),
    ],
)
@pytest.mark.parametrize("first", [NUMBER, EXT_1001], ids=["number", "extension"])
async def test_faults_are_transient_and_stop_the_batch(
    pbxware: RunningSimulator, session: aiohttp.ClientSession, fault: Fault, key: str, reason: str, first: Target
) -> None:
    """A PBX in trouble is asked once; the other targets wait without a request."""
    pbxware.sim.fail(fault, delay=2)
    provider = make(session, pbxware.url, timeout=0.3)
    receipts = await provider.async_send(OutboundSms(text="x"), [first, NUMBER, EXT_1001])
    assert [r.outcome for r in receipts] == [Outcome.TRANSIENT] * 3
    assert [r.error_key for r in receipts] == [key] * 3
    assert reason in (receipts[0].error or "")
    assert "<html" not in (receipts[0].error or "").lower()
    # aiohttp repeats a GET (idempotent) once on a connection dropped without an answer
    repeated = 2 if fault is Fault.RESET and first is NUMBER else 1
    assert len(pbxware.sim.requests) == repeated
    assert pbxware.sim.messages == []


async def test_key_travels_as_documented_and_never_reaches_the_log(
    pbxware: RunningSimulator, session: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    """The key goes in the query string (action API) or the X-API-Key header; logs carry neither it nor numbers."""
    provider = make(session, pbxware.url)
    await provider.async_validate()
    await provider.async_send(OutboundSms(text="x"), [NUMBER, EXT_1001, EXT_1002])
    assert pbxware.sim.key_sources == ["query", "query", "header", "header"]
    assert all(API_KEY not in r.path for r in pbxware.sim.requests)
    assert API_KEY not in caplog.text
    assert "+420777888999" not in caplog.text
    assert "+42077…999" in caplog.text
    assert "+14165551234" not in caplog.text  # the extension list holds numbers too


# Tables and helpers


@pytest.mark.parametrize(
    ("status", "body", "extension", "error", "key"),
    [
        (200, '{"success": "SMS sent", "id": "7"}', False, None, None),
        (200, "[]", False, None, None),
        (200, '{"1001": {"ext": "1001"}}', False, None, None),
        (200, '{"success": "ok", "error": ""}', False, None, None),
        (200, '{"success": "ok", "error": null}', False, None, None),
        (200, '{"error": "Invalid API key"}', False, AuthError, "invalid_auth"),
        (200, '{"error": "INVALID API KEY"}', False, AuthError, "invalid_auth"),
        (200, '{ "error": "SMS API is disabled" }', False, EntryRejectedError, "sms_api_disabled"),
        (
            200,
            '{"error":"Action sms_message returned with error: ERR: SMS not enabled for this tenant: "}',
            False,
            EntryRejectedError,
            "sms_not_enabled",
        ),
        (200, '{"error": "Invalid or missing sender SMS number"}', False, EntryRejectedError, "invalid_sender"),
        (
            200,
            '{"error": "Destination does not have an assigned SMS number"}',
            True,
            TargetRejectedError,
            "no_sms_number",
        ),
        (200, '{"error": "Permission denied for this action"}', False, EntryRejectedError, "no_api_permission"),
        (200, '{"error": "Action not allowed for this API key"}', False, EntryRejectedError, "no_api_permission"),
        (200, '{"error": "Access denied"}', False, EntryRejectedError, "no_api_permission"),
        (200, '{"error": "You have no PERMISSION"}', False, EntryRejectedError, "no_api_permission"),
        (200, '{"error": "to_number must be in +E.164 format"}', False, TargetRejectedError, "target_rejected"),
        (200, PHP_NOTICE + '{"success": "SMS sent"}', False, None, None),
        (200, PHP_NOTICE + '{"error": "SMS API is disabled"}', False, EntryRejectedError, "sms_api_disabled"),
        (200, PHP_NOTICE, False, TargetRejectedError, "unexpected_response"),
        (200, "<html><body>Login</body></html>", False, TargetRejectedError, "unexpected_response"),
        (200, "", False, TargetRejectedError, "unexpected_response"),
        (404, "404: Not Found", True, TargetRejectedError, "no_extension_endpoint"),
        (405, "Method Not Allowed", True, TargetRejectedError, "no_extension_endpoint"),
        (404, '{"error": "Not Found"}', True, TargetRejectedError, "no_extension_endpoint"),
        (404, "Not Found", False, TargetRejectedError, "unexpected_response"),
        (401, "Unauthorized", True, AuthError, "invalid_auth"),
        (403, "<html>Forbidden</html>", True, AuthError, "invalid_auth"),
        (403, '{"error": "Forbidden"}', False, AuthError, "invalid_auth"),
        (403, '{"error": "Permission denied"}', True, EntryRejectedError, "no_api_permission"),
        (
            400,
            '{"error": "Destination does not have an assigned SMS number"}',
            True,
            TargetRejectedError,
            "no_sms_number",
        ),
        (422, '{"error": "Extension not found"}', True, TargetRejectedError, "target_rejected"),
        (500, '{"error": "Invalid API key"}', False, TransientError, "server_error"),
        (503, "Service Unavailable", True, TransientError, "server_error"),
        (302, "", False, TargetRejectedError, "unexpected_response"),
    ],
)
def test_classification_table(
    status: int, body: str, extension: bool, error: type[ProviderError] | None, key: str | None
) -> None:
    """5xx first, then the documented texts, then the status, then any other text; no error means sent."""
    verdict = classify(status, body, extension=extension)
    assert (type(verdict.error) if verdict.error else None, verdict.key) == (error, key)


def test_sent_verdict_keeps_the_id() -> None:
    """An `id` in the success answer becomes the receipt's message id; without one there is none."""
    assert classify(200, '{"success": "SMS sent", "id": 42}').message_id == "42"
    assert classify(200, '{"success": "SMS sent"}').message_id is None


def test_long_error_text_is_shortened() -> None:
    """A page-long error does not become the reason users see."""
    verdict = classify(200, json.dumps({"error": "x" * 1000}))
    assert verdict.error is not None
    assert len(verdict.error.reason) < 250


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ('{"id": "1"}', {"id": "1"}),
        (PHP_NOTICE + '{"id": "1"}', {"id": "1"}),
        (
            (
                "<br />\n<b>Warning</b>:  Invalid argument in <b>/opt/pbxware/pw/api.php</b> on line <b>3</b><br />\n"
                '{"id": "1"}'
            ),
            {"id": "1"},
        ),
        ('PHP Notice:  Undefined variable: x in /var/www/api.php on line 9\n{"id": "1"}', {"id": "1"}),
        ('{"id": "1"}' + PHP_NOTICE, {"id": "1"}),
        (PHP_NOTICE + "[]", []),
        ("<br />\n<b>Notice</b>:  Undefined offset {0} in /a.php on line 1<br />\n" + '{"id": "1"}', {"id": "1"}),
        ('Notice: odd output on line 2 left {not json} {"error": "x"} tail', {"error": "x"}),
        (PHP_NOTICE, None),
        ("Fatal error: Allowed memory size exhausted", None),
        ("<html>{</html>", None),
    ],
)
def test_parse_payload_skips_php_messages(body: str, expected: object) -> None:
    """The JSON answer is found around PHP notices and warnings; text without PHP messages is not searched."""
    assert parse_payload(body) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("pbx.example.com", "https://pbx.example.com/"),
        ("http://192.0.2.10/", "http://192.0.2.10/"),
        ("https://pbx.example.com/index.php", "https://pbx.example.com/"),
        ("https://pbx.example.com:8443/index.php?apikey=x", "https://pbx.example.com:8443/"),
        (" https://pbx.example.com/pbx/index.php/ ", "https://pbx.example.com/pbx"),
    ],
)
def test_url_forms(raw: str, expected: str) -> None:
    """An address with or without scheme, index.php or a query becomes the base URL."""
    assert str(normalize_url(raw)) == expected


@pytest.mark.parametrize("raw", ["ftp://pbx.example.com", "https://", "http:///index.php"])
def test_bad_urls(raw: str) -> None:
    """Only http and https with a host are accepted."""
    with pytest.raises(ValueError, match=r".*"):
        normalize_url(raw)


async def test_requests_go_below_a_base_path(pbxware: RunningSimulator, session: aiohttp.ClientSession) -> None:
    """Entered with index.php, the client still POSTs to /index.php and to the endpoint at the root."""
    provider = make(session, f"{pbxware.url}/index.php")
    await provider.async_send(OutboundSms(text="x"), [NUMBER, EXT_1001])
    assert [r.path for r in pbxware.sim.requests] == ["/index.php", EXT_PATH]


def test_redacted_view_has_no_secret_or_address() -> None:
    """Diagnostics see the scheme and path only."""
    provider = PbxwareProvider(
        None,  # type: ignore[arg-type]
        url="https://pbx.example.com",
        api_key="s3cr3t-key",
        server="59",
    )
    view = str(provider.redacted_view())
    assert "s3cr3t-key" not in view
    assert "pbx.example.com" not in view
    assert provider.redacted_view()["provider"] == "pbxware"


@pytest.mark.parametrize(
    ("url", "server", "unique_id", "title"),
    [
        ("https://pbx.example.com", "1", "pbxware:1:8254c329a92850f6", "PBXware tenant 1"),
        ("http://PBX.Example.com:80/index.php", "59", "pbxware:59:8254c329a92850f6", "PBXware tenant 59"),
        ("https://192.0.2.10:8443", " 2 ", "pbxware:2:8254c329a92850f6", "PBXware tenant 2"),
    ],
)
def test_account_identity(url: str, server: str, unique_id: str, title: str) -> None:
    """One account is one tenant reached with one key (16 hex digits of its SHA-256), whatever the PBX's address."""
    provider = PbxwareProvider(None, url=url, api_key="k", server=server)  # type: ignore[arg-type]
    info = provider.identity()
    assert info == AccountInfo(unique_id=unique_id, account=unique_id.rpartition(":")[0], title=title)
    assert "k" not in info.unique_id.split(":")


def test_capabilities() -> None:
    """Numbers and extensions, no provider options."""
    assert PbxwareProvider.key == "pbxware"
    assert PbxwareProvider.target_kinds == frozenset({TargetKind.NUMBER, TargetKind.EXTENSION})
    assert PbxwareProvider.options == frozenset()


@pytest.mark.parametrize(
    "body",
    ['{"success": false}', '{"success": "false", "id": 7}', "[]", "true", '"OK"', "Notice: x on line 3\n[]"],
)
def test_a_2xx_that_is_not_a_success_object_is_not_sent(body: str) -> None:
    """Only a JSON object without `error`, and not saying success false, is a send the PBX took."""
    verdict = classify(200, body, sending=True)
    assert isinstance(verdict.error, TargetRejectedError)
    assert verdict.error.key == "unexpected_response"
    # A listing (not a send) may be any JSON: a tenant without extensions answers []
    assert classify(200, body).error is None


@pytest.mark.parametrize("status", [408, 429])
def test_a_busy_pbx_without_an_error_text_is_tried_again(status: int) -> None:
    """A request timeout or a rate limit is transient, as for the other providers."""
    assert isinstance(classify(status, "").error, TransientError)


@pytest.mark.parametrize("body", ['{"success": true, "id": 7}', '{"id": "7"}', "{}"])
def test_a_success_object_is_sent(body: str) -> None:
    """What the other actions answer, and a bare object, are taken as sent."""
    assert classify(200, body, sending=True).error is None
