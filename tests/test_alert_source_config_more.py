"""A source subentry read back: fields and policies edited by hand are refused, a policy kept as text is read.

And the address handed out for a source when Home Assistant knows no address of its own.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

import pytest
from homeassistant.config_entries import ConfigSubentry
from homeassistant.core import HomeAssistant

from custom_components.sms_alerts.alert_source_config import SourceConfig, load_policy, source_url
from custom_components.sms_alerts.alerts.escalation import MAX_REPEAT, MAX_STEPS, MAX_WAIT_MINUTES, Policy, Step
from custom_components.sms_alerts.alerts.models import Severity, SourceKind

NAMES = {"On call": "r1", "Night desk": "r2"}


def subentry(**data: Any) -> ConfigSubentry:
    """A source subentry with the fields every source has, and `data` on top."""
    base = {"kind": "alertmanager", "webhook_id": "hook1", "token": "tok"}
    return ConfigSubentry(
        data=MappingProxyType(base | data), subentry_type="source", title="Prometheus", unique_id=None
    )


def test_a_generic_source_reads_its_fields() -> None:
    """The generic source's field paths are read; another kind has none."""
    config = SourceConfig.from_subentry(subentry(kind="generic", fields={"name": "check.title"}))
    assert config.kind is SourceKind.GENERIC
    assert config.fields is not None
    assert SourceConfig.from_subentry(subentry()).fields is None


@pytest.mark.parametrize(
    ("fields", "detail"),
    [
        ({}, "name is required"),
        ({"name": "title", "colour": "x"}, "unknown field"),
        ({"name": ["title"]}, "name is not a path"),
    ],
)
def test_generic_fields_edited_by_hand_are_refused_as_value_error(fields: dict[str, Any], detail: str) -> None:
    """Fields that cannot be read raise ValueError (which the caller handles), not the parser's own error."""
    with pytest.raises(ValueError, match=detail) as raised:
        SourceConfig.from_subentry(subentry(kind="generic", fields=fields))
    assert type(raised.value) is ValueError


def test_a_policy_kept_as_text_is_read_with_the_recipient_names() -> None:
    """A policy as the user wrote it: names become recipient ids, ring is kept, severity and repeat apply."""
    config = SourceConfig.from_subentry(
        subentry(
            escalation="On call | 10\nnight desk, On call | 5 | ring",
            escalation_repeat=2,
            escalation_severity="warning",
        ),
        NAMES,
    )
    assert config.escalation == Policy((Step(("r1",), 10), Step(("r2", "r1"), 5, ring=True)), 2, Severity.WARNING)


def test_a_text_policy_naming_someone_unknown_is_refused() -> None:
    """Without the names a text policy cannot be read: ValueError naming the escalation."""
    with pytest.raises(ValueError, match="escalation"):
        SourceConfig.from_subentry(subentry(escalation="On call | 10"))


@pytest.mark.parametrize(
    "data",
    [
        {"escalation": [{"wait": 10}]},  # no recipients
        {"escalation": [{"recipients": ["r1"], "wait": "soon"}]},
        {"escalation": [None]},
        {"escalation": [], "escalation_severity": "dreadful"},
        {"escalation": [], "escalation_repeat": "often"},
    ],
    ids=["missing-key", "wait-not-a-number", "step-not-a-mapping", "unknown-severity", "repeat-not-a-number"],
)
def test_a_stored_policy_that_cannot_be_read_is_refused(data: dict[str, Any]) -> None:
    """Steps edited by hand: ValueError starting with `escalation:`, whatever went wrong inside."""
    with pytest.raises(ValueError, match=r"^escalation: ") as raised:
        load_policy(data, {})
    assert type(raised.value) is ValueError


@pytest.mark.parametrize(
    "data",
    [
        {"escalation": [{"recipients": [], "wait": 10}]},
        {"escalation": [{"recipients": ["r1"], "wait": 0}]},
        {"escalation": [{"recipients": ["r1"], "wait": MAX_WAIT_MINUTES + 1}]},
        {"escalation": [{"recipients": ["r1"], "wait": 1}] * (MAX_STEPS + 1)},
        {"escalation": [{"recipients": ["r1"], "wait": 1}], "escalation_repeat": MAX_REPEAT + 1},
        {"escalation": [{"recipients": ["r1"], "wait": 1}], "escalation_repeat": -1},
    ],
    ids=["nobody", "no-wait", "wait-too-long", "too-many-steps", "repeat-too-high", "repeat-negative"],
)
def test_a_stored_policy_out_of_bounds_is_refused(data: dict[str, Any]) -> None:
    """What the form would refuse is refused when read back too."""
    with pytest.raises(ValueError, match="out of bounds"):
        load_policy(data, {})


def test_a_stored_policy_at_its_bounds_is_read() -> None:
    """The largest policy the bounds allow is kept as it is (so the bounds above are the edges)."""
    steps = [{"recipients": ["r1"], "wait": MAX_WAIT_MINUTES, "ring": True}] * MAX_STEPS
    policy = load_policy({"escalation": steps, "escalation_repeat": MAX_REPEAT}, {})
    assert policy == Policy((Step(("r1",), MAX_WAIT_MINUTES, ring=True),) * MAX_STEPS, MAX_REPEAT, Severity.CRITICAL)


async def test_without_any_address_the_source_gets_the_placeholder(hass: HomeAssistant) -> None:
    """No internal or external URL known: the webhook path with a placeholder host, local or not."""
    hass.config.internal_url = None
    hass.config.external_url = None
    for local_only in (True, False):
        url = source_url(hass, "hook1", local_only=local_only)
        assert url == "https://<your Home Assistant address>/api/webhook/hook1"


async def test_the_local_address_or_the_external_one_where_allowed(hass: HomeAssistant) -> None:
    """Local only: the internal address even with an external one set; otherwise the external one."""
    hass.config.internal_url = "http://192.168.1.5:8123"
    hass.config.external_url = "https://ha.example.org"
    assert source_url(hass, "hook1", local_only=True) == "http://192.168.1.5:8123/api/webhook/hook1"
    assert source_url(hass, "hook1", local_only=False) == "https://ha.example.org/api/webhook/hook1"
