"""The comparisons of the alert-model test: what arrived and what is shown, against the model; pure.

Per number, the SMS that arrived must be what the model (tests/alert_model_rules.py) says is due, in its order
(the SMS of one batch, one step or one minute, in any order); the open-alerts sensor must list the model's open
alerts with their escalations.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from .alert_model_rules import Escalation, Model
from .alert_model_specs import NAMES, POLICY, SPECS


def sms_problems(model: Model, delivered: Mapping[str, list[str]], *, complete: bool) -> list[str]:
    """Per number: what arrived is what the model expects, in its order (a batch's SMS in any order).

    While the outbox still holds messages, what arrived must be the start of it; once it is empty (`complete`),
    all of it. Anything more is a duplicate or an SMS nobody should have had.
    """
    problems = []
    for number in sorted(set(delivered) | set(model.sms) | set(model.backlog)):
        got = delivered.get(number, [])
        batches: dict[int, list[str]] = {}
        for batch, text in model.sms.get(number, []):
            batches.setdefault(batch, []).append(text)
        # What waits while the gateway is down, or until what waited went: last, in any order
        if waiting := [text for _key, text in model.backlog.get(number, [])]:
            batches[model.batch + 1] = waiting
        position = 0
        for batch, texts in batches.items():
            part = got[position : position + len(texts)]
            position += len(part)
            if len(part) < len(texts):
                if complete or Counter(part) - Counter(texts):
                    problems.append(f"{number}: batch {batch} expected {texts}, got {part}")
                break
            if Counter(part) != Counter(texts):
                problems.append(f"{number}: batch {batch} expected {texts}, got {part}")
                break
        if got[position:] and not problems:
            problems.append(f"{number}: unexpected (or duplicated) {got[position:]}")
    return [*problems, *_describe(model, delivered)] if problems else []


def _describe(model: Model, delivered: Mapping[str, list[str]]) -> list[str]:
    """Everything due and everything delivered, for a failure's report."""
    lines = ["due:"]
    lines += [f"  {number} {batch}: {text}" for number, due in model.sms.items() for batch, text in due]
    lines.append("delivered:")
    lines += [f"  {number}: {text}" for number, texts in delivered.items() for text in texts]
    return lines


def open_alert_problems(model: Model, source: str, state: str, listed: Sequence[Mapping[str, Any]]) -> list[str]:
    """A source's open-alerts sensor (its state and its list) shows its open alerts, with their escalation."""
    problems = []
    own = {fingerprint: alert for fingerprint, alert in model.open.items() if SPECS[fingerprint].source == source}
    if state != str(len(own)):
        problems.append(f"sensor of {source} shows {state} open, the model {len(own)}")
    shown = {alert["reference"]: alert for alert in listed}
    if set(shown) - {alert.code for alert in own.values()}:
        problems.append(f"sensor of {source} lists {sorted(shown)}, the model {sorted(a.code for a in own.values())}")
    for fingerprint, alert in own.items():
        spec = SPECS[fingerprint]
        expected = {
            "name": spec.name,
            "status": alert.status,
            "severity": spec.severity,
            "reference": alert.code,
            "count": alert.count,
            "recipients": len(alert.told),
        }
        found = shown.get(alert.code)
        if found is None:
            problems.append(f"sensor does not list {alert.code} ({fingerprint})")
            continue
        if {key: found.get(key) for key in expected} != expected:
            problems.append(f"sensor shows {alert.code} as {found}, the model {expected}")
        escalation = model.escalations.get(fingerprint)
        if escalation is not None:
            paused = model.window(fingerprint) is not None
            problems += _escalation_problems(alert.code, found.get("escalation"), escalation, paused=paused)
    return problems


def _escalation_problems(
    code: str, shown: Mapping[str, Any] | None, escalation: Escalation, *, paused: bool
) -> list[str]:
    """The escalation the sensor shows is the model's."""
    if shown is None:
        return [f"sensor shows no escalation of {code}"]
    last = escalation.pages[-1] if escalation.pages else None
    expected: dict[str, Any] = {
        "state": escalation.state,
        "step": None if last is None else last[0] + 1,
        "round": None if last is None else last[1] + 1,
        "pages": len(escalation.pages),
        "paged": [NAMES[who] for who in escalation.told],
        "acknowledged_by": escalation.by if escalation.state == "acknowledged" else None,
    }
    if not paused:
        # While a window pauses it, the next page is not known yet (it moves on by the pause)
        when = escalation.next_time() if escalation.step < len(POLICY) else None
        expected["next_page"] = None if when is None else when.isoformat()
    if {key: shown.get(key) for key in expected} != expected:
        return [f"sensor shows the escalation of {code} as {dict(shown)}, the model {expected}"]
    return []
