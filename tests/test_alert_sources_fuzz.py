"""Hostile bodies at an alert source's webhook: random JSON of every shape, broken bytes, deep and huge bodies.

Whatever comes with the right secret is answered 200 or 4xx, never 500; a refused body leaves at most one
warning line and never a traceback (the suite's log guard); nothing is sent for a body that was refused.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from homeassistant.core import HomeAssistant
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from .conftest import RunningSimulator
from .test_alert_sources import HOOK, bearer, entry_with, setup, source_subentry

_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=40),
    # Values the parsers look for, in the wrong places and of the wrong types
    st.sampled_from(["firing", "resolved", "critical", "4", "", "0001-01-01T00:00:00Z", "not a time", "\u202e"]),
)
_KEYS = st.one_of(
    st.sampled_from(
        [
            "version",
            "status",
            "alerts",
            "labels",
            "annotations",
            "fingerprint",
            "startsAt",
            "endsAt",
            "alertname",
            "severity",
            "heartbeat",
            "monitor",
            "msg",
            "name",
            "receiver",
            "groupKey",
            "commonLabels",
            "truncatedAlerts",
            "valueString",
            "silenceURL",
            "values",
            "title",
            "message",
        ]
    ),
    st.text(max_size=12),
)
_JSON = st.recursive(
    _SCALARS,
    lambda children: st.one_of(st.lists(children, max_size=6), st.dictionaries(_KEYS, children, max_size=8)),
    max_leaves=40,
)


def _alertish(value: Any) -> dict[str, Any]:
    """Wrap a random value where an Alertmanager body holds its alerts, so the parser's inner paths are reached."""
    return {"version": "4", "status": "firing", "receiver": "r", "groupKey": "g", "alerts": [value]}


_BODIES = st.one_of(
    _JSON.map(lambda value: json.dumps(value).encode()),
    _JSON.map(lambda value: json.dumps(_alertish(value)).encode()),
    st.binary(max_size=200),
    st.text(max_size=200).map(lambda text: text.encode("utf-8", "surrogatepass")),
    st.integers(min_value=1, max_value=20_000).map(lambda depth: b'{"a":' * depth + b"1" + b"}" * depth),
    st.integers(min_value=1, max_value=20_000).map(lambda depth: b"[" * depth + b"]" * depth),
)


@pytest.fixture
async def fuzzed(hass: HomeAssistant, gateway: RunningSimulator) -> MockConfigEntry:
    """An entry with one recipient and one Alertmanager source."""
    entry = entry_with(gateway, source_subentry())
    await setup(hass, entry)
    return entry


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=_BODIES)
async def test_any_body_is_answered_200_or_4xx_with_at_most_one_warning(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    fuzzed: MockConfigEntry,
    gateway: RunningSimulator,
    caplog: pytest.LogCaptureFixture,
    body: bytes,
) -> None:
    """A random body with the right secret: 200 or 4xx, one warning at most, nothing sent when refused."""
    client = await hass_client_no_auth()
    sent_before = len(gateway.sim.messages)
    caplog.clear()
    response = await client.post(
        f"/api/webhook/{HOOK}", data=body, headers={"Content-Type": "application/json", **bearer()}
    )
    await hass.async_block_till_done()
    assert response.status == 200 or 400 <= response.status < 500, response.status
    ours = [r for r in caplog.records if r.name.startswith("custom_components.sms_alerts")]
    assert len([r for r in ours if r.levelno == logging.WARNING and "refused" in r.getMessage()]) <= 1
    assert not [r for r in ours if r.levelno >= logging.ERROR]
    if response.status != 200:
        assert len(gateway.sim.messages) == sent_before


async def test_a_huge_body_is_refused_without_reading_it_all(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    fuzzed: MockConfigEntry,
    gateway: RunningSimulator,
) -> None:
    """Twenty megabytes of alerts: a 413, nothing sent."""
    client = await hass_client_no_auth()
    alert = {"status": "firing", "labels": {"alertname": "x" * 1000}, "fingerprint": "f"}
    body = json.dumps({"version": "4", "status": "firing", "alerts": [alert] * 20_000}).encode()
    assert len(body) > 20_000_000
    response = await client.post(
        f"/api/webhook/{HOOK}", data=body, headers={"Content-Type": "application/json", **bearer()}
    )
    assert response.status == 413
    assert gateway.sim.messages == []
