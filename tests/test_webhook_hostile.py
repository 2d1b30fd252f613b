"""Hostile bodies posted to the IPEX webhook over real HTTP: the right 4xx, short warnings, bounded events."""

from __future__ import annotations

import encodings.aliases
import gzip
import json
import logging
import random
import string
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from homeassistant.components import webhook
from homeassistant.core import Event, HomeAssistant
from homeassistant.util.aiohttp import MockRequest
from pytest_homeassistant_custom_component.common import async_capture_events
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.sms_alerts import webhook_body
from custom_components.sms_alerts.api.ipex_webhook import (
    MAX_FIELD,
    MAX_ITEMS,
    MAX_TEXT,
    InboundSms,
    TooManyItemsError,
    parse_webhook,
)
from custom_components.sms_alerts.webhook_body import MAX_BODY_BYTES, MAX_DEPTH, MAX_FORM_FIELDS, WarningLimiter

from .conftest import RunningSimulator, send
from .test_provider_integration import NUMBER, ipex_entry

EVENTS = ("sms_alerts_received", "sms_alerts_delivery", "sms_alerts_failed", "sms_alerts_acknowledged")
# Home Assistant's http server lets a body reach 16 MB (MAX_CLIENT_SIZE, homeassistant/components/http/__init__.py
# @2025.4.4, aiohttp's client_max_size); aiohttp raises HTTPRequestEntityTooLarge past it in request.read()
HA_MAX_CLIENT_SIZE = 16 * 1024**2
# No log line of ours is longer, whatever was posted
MAX_LOG_LINE = 300
JSON = "application/json"
# The loggers a request passes (the test library's own store debug lines are long and not ours)
ON_THE_WAY = (
    "custom_components.sms_alerts",
    "homeassistant.components.webhook",
    "homeassistant.components.http",
    "aiohttp",
)


@dataclass(frozen=True)
class Case:
    """One body to post, what it is, and the statuses that are right for it."""

    name: str
    body: bytes | AsyncIterator[bytes]
    headers: dict[str, str] = field(default_factory=dict)
    statuses: frozenset[int] = frozenset({400})
    events: int = 0


def inbound(number: int = 0, **fields: Any) -> dict[str, Any]:
    """A valid inbound SMS (the fields of PROVIDERS.md, IPEX webhook), with fields replaced."""
    return {"id": f"in-{number}", "from": NUMBER, "to": "+420777888999", "text": "hi", "direction": "IN", **fields}


def body(payload: Any) -> bytes:
    """A payload as a JSON body."""
    return json.dumps(payload).encode()


def nested(depth: int, opener: str, closer: str, core: str = "") -> bytes:
    """A JSON body nested depth times."""
    return (opener * depth + core + closer * depth).encode()


async def stream(size: int, piece: bytes = b" ") -> AsyncIterator[bytes]:
    """A body of size bytes sent chunked, with no Content-Length."""
    chunk = piece * (64 * 1024 // len(piece))
    sent = 0
    while sent < size:
        yield chunk[: size - sent]
        sent += len(chunk)


NAMED = [
    Case("nested 5000 lists", nested(5000, "[", "]")),
    Case("nested 100000 lists", nested(100_000, "[", "]")),
    Case("nested 5000 objects", nested(5000, '{"a":', "}", "1")),
    Case("deep value in a valid SMS", body(inbound(extra=json.loads(nested(MAX_DEPTH + 1, "[", "]"))))),
    Case("over 16 MB announced", b" " * (HA_MAX_CLIENT_SIZE + 1), {"Content-Type": JSON}, frozenset({413})),
    Case("over 16 MB chunked", stream(HA_MAX_CLIENT_SIZE + 1), {"Content-Type": JSON}, frozenset({413})),
    Case("just over our limit", b" " * (MAX_BODY_BYTES + 1), {"Content-Type": JSON}, frozenset({413})),
    Case(
        "gzip bomb",
        gzip.compress(b" " * (HA_MAX_CLIENT_SIZE * 2)),
        {"Content-Type": JSON, "Content-Encoding": "gzip"},
        frozenset({413}),
    ),
    Case("broken gzip", b"\x1f\x8b\x08\x00broken", {"Content-Type": JSON, "Content-Encoding": "gzip"}),
    Case("unknown charset", body(inbound()), {"Content-Type": f"{JSON}; charset=x-klingon"}, frozenset({415})),
    Case("long unknown charset", body(inbound()), {"Content-Type": f"{JSON}; charset={'x' * 4000}"}, frozenset({415})),
    Case("bytes codec as charset", body(inbound()), {"Content-Type": f"{JSON}; charset=base64"}, frozenset({415})),
    Case(
        "form in an unknown charset",
        b"a=b",
        {"Content-Type": "application/x-www-form-urlencoded; charset=nope"},
        frozenset({415}),
    ),
    Case("bad UTF-8", b'{"text": "\xff\xfe"}', {"Content-Type": JSON}),
    Case("odd UTF-16", b'{"a": 1}', {"Content-Type": f"{JSON}; charset=utf-16"}),
    Case("FAILED report with a 100 KB id", body({"id": "x" * 100_000, "to": NUMBER, "state": "FAILED"})),
    Case("SMS from a 100 KB number", body(inbound(**{"from": "1" * 100_000}))),
    Case("500 objects", body([inbound(n) for n in range(500)]), statuses=frozenset({413})),
    Case("500 empty objects", body([{}] * 500), statuses=frozenset({413})),
    Case(
        f"{MAX_ITEMS} objects",
        body([inbound(n) for n in range(MAX_ITEMS)]),
        statuses=frozenset({200}),
        events=MAX_ITEMS,
    ),
    Case("100 KB text", body(inbound(text="x" * 100_000)), statuses=frozenset({200}), events=1),
    Case(
        "a form of 10000 fields",
        "&".join(f"f{n}=1" for n in range(10_000)).encode(),
        {"Content-Type": "application/x-www-form-urlencoded"},
    ),
    Case("multipart without parts", b"garbage", {"Content-Type": "multipart/form-data; boundary=x"}),
    Case("huge integer", b'{"id": ' + b"9" * 5000 + b"}", {"Content-Type": JSON}),
]


def generated(seed: int = 17) -> list[Case]:
    """A few hundred hostile bodies, the same on every run: fourteen kinds of harm, twenty of each."""
    rng = random.Random(seed)  # noqa: S311 - the same bodies on every run, not secrets
    text_codecs = set(encodings.aliases.aliases.values())
    cases: list[Case] = []
    for n in range(20):
        depth = rng.choice((MAX_DEPTH + 1, 200, 1000, 3000, 20_000))
        opener, closer = rng.choice((("[", "]"), ('{"k":', "}"), ('[{"text":', "}]")))
        cases.append(Case(f"nested {depth} {opener}", nested(depth, opener, closer, rng.choice(("", "1", '"x"')))))
        cases.append(Case(f"random bytes {n}", b"\x00" + rng.randbytes(rng.randrange(1, 5000)), {"Content-Type": JSON}))
        charset = rng.choice(
            ("".join(rng.choices(string.ascii_letters, k=rng.randrange(1, 60))), "rot13", "hex", "zlib", "uu")
        )
        if charset.lower() not in text_codecs:
            cases.append(
                Case(
                    f"charset {charset[:12]}",
                    body(inbound(n)),
                    {"Content-Type": f"{JSON}; charset={charset}"},
                    frozenset({415}),
                )
            )
        wrong = rng.choice((5, 1.5, True, [], {}, ["x"], {"a": "b"}))
        cases.append(
            Case(
                f"{rng.choice(list(MAX_FIELD))} of wrong type", body(inbound(n, **{rng.choice(list(MAX_FIELD)): wrong}))
            )
        )
        name = rng.choice(list(MAX_FIELD))
        cases.append(
            Case(f"long {name}", body(inbound(n, **{name: "9" * rng.randrange(MAX_FIELD[name] + 1, 100_000)})))
        )
        count = rng.randrange(MAX_ITEMS + 1, 3000)
        cases.append(Case(f"list of {count}", body([inbound(k) for k in range(count)]), statuses=frozenset({413})))
        size = rng.randrange(MAX_BODY_BYTES + 1, 3 * 1024**2)
        cases.append(
            Case(f"{size} bytes", b" " * size if n % 2 else stream(size), {"Content-Type": JSON}, frozenset({413}))
        )
        whole = body([inbound(k) for k in range(rng.randrange(1, 5))])
        cases.append(Case(f"cut JSON {n}", whole[: rng.randrange(1, len(whole) - 1)], {"Content-Type": JSON}))
        text = "".join(rng.choices("aäř€😀 #\n", k=rng.randrange(MAX_TEXT - 5, 3 * MAX_TEXT)))
        cases.append(Case(f"text of {len(text)}", body(inbound(n, text=text)), statuses=frozenset({200}), events=1))
        valid = rng.randrange(0, MAX_ITEMS // 2)
        mixed = [inbound(k) for k in range(valid)] + [
            rng.choice(({}, [], 1, "s", None, {"x": "y"})) for _ in range(valid)
        ]
        rng.shuffle(mixed)
        cases.append(Case(f"{valid} valid among others", body(mixed), statuses=frozenset({200}), events=valid))
        fields = "&".join(f"f{k}=v" for k in range(rng.randrange(MAX_FORM_FIELDS + 1, 5000)))
        cases.append(Case(f"form {n}", fields.encode(), {"Content-Type": "application/x-www-form-urlencoded"}))
        cases.append(
            Case(
                f"multipart garbage {n}",
                rng.randbytes(rng.randrange(1, 3000)),
                {"Content-Type": "multipart/form-data; boundary=b"},
                frozenset({200, 400}),
            )
        )
        cases.append(Case(f"scalar {n}", body(rng.choice((1, -2.5, "s" * rng.randrange(100_000), None, True)))))
        cases.append(Case(f"empty {n}", b" \n\t" * rng.randrange(0, 100), {"Content-Type": JSON}))
    return cases


def ours(record: logging.LogRecord) -> bool:
    """Tell whether a log record is the integration's (the event loop also warns of its slow steps in debug mode)."""
    return record.name.startswith("custom_components.sms_alerts")


def event_values_bounded(event: Event) -> bool:
    """Tell whether every value of an event is a string no longer than an inbound text may be."""
    return all(isinstance(value, str) and len(value) <= MAX_TEXT for value in event.data.values())


async def post_all(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    caplog: pytest.LogCaptureFixture,
    cases: list[Case],
) -> list[str]:
    """Post every case to one IPEX entry's webhook; return what went wrong, one line per case."""
    entry_id = hass.config_entries.async_entries("sms_alerts")[0].entry_id
    entry = hass.config_entries.async_get_entry(entry_id)
    assert entry is not None
    captured = {name: async_capture_events(hass, name) for name in EVENTS}
    client = await hass_client_no_auth()
    path = f"/api/webhook/{entry.data['webhook_id']}"
    wrong: list[str] = []
    for case in cases:
        before = {name: len(events) for name, events in captured.items()}
        first_record = len(caplog.records)
        response = await client.post(path, data=case.body, headers=case.headers)
        await response.read()
        await hass.async_block_till_done()
        fired = [event for name, events in captured.items() for event in events[before[name] :]]
        records = caplog.records[first_record:]
        if response.status not in case.statuses:
            wrong.append(f"{case.name}: status {response.status}, not {sorted(case.statuses)}")
        if len(fired) != case.events or not all(map(event_values_bounded, fired)):
            wrong.append(f"{case.name}: {len(fired)} events, not {case.events}, or values too long")
        for record in records:
            if record.levelno >= logging.ERROR or record.exc_info:
                wrong.append(f"{case.name}: {record.levelname} {record.name}: {record.getMessage()[:200]}")
            if record.name.startswith(ON_THE_WAY) and len(record.getMessage()) > MAX_LOG_LINE:
                wrong.append(f"{case.name}: a log line of {len(record.getMessage())} characters from {record.name}")
    return wrong


@pytest.fixture
def one_warning_a_day(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the per-webhook warning interval longer than any test run, so that a burst shows its rate limit."""
    monkeypatch.setattr(webhook_body, "WARNING_INTERVAL", 86_400.0)


@pytest.mark.parametrize("case", NAMED, ids=[case.name for case in NAMED])
async def test_hostile_body_gets_its_4xx_and_one_short_warning(
    hass: HomeAssistant,
    ipex_sim: RunningSimulator,
    hass_client_no_auth: ClientSessionGenerator,
    caplog: pytest.LogCaptureFixture,
    case: Case,
) -> None:
    """Each hostile body the issue names gets its status, bounded events, no ERROR; a good one still works."""
    entry = await ipex_entry(hass, ipex_sim.url)
    first_record = len(caplog.records)
    assert await post_all(hass, hass_client_no_auth, caplog, [case]) == []
    warnings = [r for r in caplog.records[first_record:] if r.levelno == logging.WARNING and ours(r)]
    if min(case.statuses) >= 400:
        assert len(warnings) == 1
        assert entry.title in warnings[0].getMessage()
    assert (
        await post_all(
            hass, hass_client_no_auth, caplog, [Case("good", body(inbound()), statuses=frozenset({200}), events=1)]
        )
        == []
    )


async def test_a_few_hundred_generated_bodies_never_500_error_or_flood(
    hass: HomeAssistant,
    ipex_sim: RunningSimulator,
    hass_client_no_auth: ClientSessionGenerator,
    caplog: pytest.LogCaptureFixture,
    one_warning_a_day: None,
) -> None:
    """Generated hostile bodies: the right 4xx, bounded events and log lines, and one warning for the whole burst."""
    await ipex_entry(hass, ipex_sim.url)
    cases = generated()
    assert len(cases) >= 250
    first_record = len(caplog.records)
    assert await post_all(hass, hass_client_no_auth, caplog, cases) == []
    warnings = [r for r in caplog.records[first_record:] if r.levelno == logging.WARNING and ours(r)]
    assert len(warnings) == 1


async def test_failed_report_of_an_unknown_message_is_named_briefly(
    hass: HomeAssistant,
    ipex_sim: RunningSimulator,
    hass_client_no_auth: ClientSessionGenerator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A FAILED report with the longest id taken still fires sms_alerts_failed, its id and warning bounded."""
    entry = await ipex_entry(hass, ipex_sim.url)
    failed = async_capture_events(hass, "sms_alerts_failed")
    report = {"id": "x" * MAX_FIELD["id"], "to": NUMBER, "state": "FAILED"}
    case = Case("longest id", body(report), statuses=frozenset({200}), events=2)  # delivery and failed
    assert await post_all(hass, hass_client_no_auth, caplog, [case]) == []
    assert [event.data["entry_id"] for event in failed] == [entry.entry_id]


async def test_a_burst_of_failed_reports_of_unknown_messages_gives_one_warning_and_forges_no_line(
    hass: HomeAssistant,
    ipex_sim: RunningSimulator,
    hass_client_no_auth: ClientSessionGenerator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Two requests of 100 FAILED reports whose ids hold a line break (a forged log line): one short warning.

    Each still fires sms_alerts_failed (a real report of an old message must not pass silently; a request holds
    at most 100); the other warnings go to the debug log, every id escaped there and in the events.
    """
    entry = await ipex_entry(hass, ipex_sim.url)
    failed = async_capture_events(hass, "sms_alerts_failed")
    client = await hass_client_no_auth()
    first_record = len(caplog.records)
    for burst in range(2):
        reports = [
            {"id": f"forged-{burst}-{n}\nERROR fake log line", "to": NUMBER, "state": "FAILED"} for n in range(100)
        ]
        response = await client.post(f"/api/webhook/{entry.data['webhook_id']}", json=reports)
        assert response.status == 200
    await hass.async_block_till_done()
    records = [r for r in caplog.records[first_record:] if ours(r)]
    warnings = [r.getMessage() for r in records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "forged-0-0\\nERROR fake log line" in warnings[0]
    assert not [r for r in records if "\n" in r.getMessage()]
    assert len(failed) == 200
    assert not [event for event in failed if "\n" in event.data["error"]]


async def test_valid_callbacks_behave_as_before(
    hass: HomeAssistant,
    ipex_sim: RunningSimulator,
    hass_client_no_auth: ClientSessionGenerator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A reply, a delivery report, a form body and a multipart body each fire their event, with no warning."""
    entry = await ipex_entry(hass, ipex_sim.url)
    response = await send(hass, entry, message="Freezer warm", target=[NUMBER])
    report = {"id": response["results"][0]["id"], "to": NUMBER, "state": "DELIVERED", "direction": "OUT"}
    multipart = (
        b'--b\r\nContent-Disposition: form-data; name="from"\r\n\r\n' + NUMBER.encode() + b"\r\n"
        b'--b\r\nContent-Disposition: form-data; name="text"\r\n\r\nGr\xc3\xbc\xc3\x9fe\r\n'
        b'--b\r\nContent-Disposition: form-data; name="direction"\r\n\r\nIN\r\n--b--\r\n'
    )
    received = async_capture_events(hass, "sms_alerts_received")
    cases = [
        Case("reply", body(inbound(text="ACK")), statuses=frozenset({200}), events=1),
        Case("report in a list", body([report]), statuses=frozenset({200}), events=1),
        Case(
            "latin-1 reply",
            json.dumps(inbound(text="Grüße"), ensure_ascii=False).encode("latin-1"),
            {"Content-Type": f"{JSON}; charset=latin-1"},
            frozenset({200}),
            1,
        ),
        Case(
            "form",
            b"from=%2B491701234567&text=hi&direction=IN",
            {"Content-Type": "application/x-www-form-urlencoded"},
            frozenset({200}),
            1,
        ),
        Case("multipart", multipart, {"Content-Type": "multipart/form-data; boundary=b"}, frozenset({200}), 1),
        Case("unknown shape", body({"something": "else"}), statuses=frozenset({200})),
    ]
    first_record = len(caplog.records)
    assert await post_all(hass, hass_client_no_auth, caplog, cases) == []
    assert [r.getMessage() for r in caplog.records[first_record:] if r.levelno >= logging.WARNING] == []
    assert [event.data["text"] for event in received] == ["ACK", "Grüße", "hi", "Grüße"]


def test_warnings_are_rate_limited_and_count_what_was_held() -> None:
    """One warning per interval; the next one says how many were held back (they went to debug)."""
    now = [0.0]
    logger = logging.getLogger("tests.limiter")
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    limiter = WarningLimiter(logger, interval=60.0, clock=lambda: now[0])
    for second in (0.0, 1.0, 30.0, 59.0, 60.0, 61.0, 200.0):
        now[0] = second
        limiter.warning("refused %s", second)
    assert [(r.levelno, r.getMessage()) for r in records if r.levelno == logging.WARNING] == [
        (logging.WARNING, "refused 0.0"),
        (logging.WARNING, "refused 60.0 (and 3 more since the last warning, in the debug log)"),
        (logging.WARNING, "refused 200.0 (and 1 more since the last warning, in the debug log)"),
    ]
    logger.removeHandler(handler)


async def test_callbacks_through_home_assistant_cloud_are_read_too(
    hass: HomeAssistant, ipex_sim: RunningSimulator, caplog: pytest.LogCaptureFixture
) -> None:
    """A cloudhook call arrives as Home Assistant's MockRequest; it is read, and refused, as a direct one."""
    # The cloud client hands the webhook a MockRequest of the body, headers and method it was sent
    # (async_webhook_message, homeassistant/components/cloud/client.py @2025.4.4); MockRequest has no content_type
    entry = await ipex_entry(hass, ipex_sim.url)
    received = async_capture_events(hass, "sms_alerts_received")
    first_record = len(caplog.records)
    statuses = []
    for payload in (body(inbound(text="via cloud")), nested(5000, "[", "]"), body([{}] * 500)):
        request = MockRequest(payload, "cloud", "POST", headers={"Content-Type": JSON})
        response = await webhook.async_handle_webhook(hass, entry.data["webhook_id"], request)  # type: ignore[arg-type]
        statuses.append(response.status)
    await hass.async_block_till_done()
    assert statuses == [200, 400, 413]
    assert [event.data["text"] for event in received] == ["via cloud"]
    assert not [r for r in caplog.records[first_record:] if r.levelno >= logging.ERROR]


@pytest.mark.parametrize(
    ("payload", "error"),
    [
        ([inbound(n) for n in range(MAX_ITEMS + 1)], TooManyItemsError),
        ([{}] * (MAX_ITEMS + 1), TooManyItemsError),
        *[(inbound(**{name: "9" * (limit + 1)}), ValueError) for name, limit in MAX_FIELD.items()],
    ],
    ids=["too many SMS", "too many empty objects", *(f"long {name}" for name in MAX_FIELD)],
)
def test_parser_refuses_too_many_objects_and_overlong_fields(payload: object, error: type[Exception]) -> None:
    """More objects than MAX_ITEMS, or a field longer than SMS Chat would send, refuse the whole callback."""
    with pytest.raises(error, match="webhook"):
        parse_webhook(payload)


def test_parser_takes_the_longest_fields_and_cuts_a_long_text() -> None:
    """Fields at their limits are taken; an inbound text is cut to MAX_TEXT characters, marked with an ellipsis."""
    longest = {name: "9" * limit for name, limit in MAX_FIELD.items()}
    (sms,) = parse_webhook([{**longest, "direction": "IN", "text": "x" * (MAX_TEXT + 1)}] * MAX_ITEMS)[:1]
    assert isinstance(sms, InboundSms)
    assert (len(sms.id), len(sms.sender), len(sms.text), sms.text[-1]) == (128, 64, MAX_TEXT, "…")
