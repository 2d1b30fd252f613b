"""What an alert source subentry holds, how its requests prove the secret, and the address it is given."""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from homeassistant.components import webhook
from homeassistant.config_entries import ConfigSubentry
from homeassistant.const import CONF_WEBHOOK_ID
from homeassistant.core import HomeAssistant
from homeassistant.helpers.network import NoURLAvailableError, get_url

from .alerts.escalation import MAX_REPEAT, MAX_STEPS, MAX_WAIT_MINUTES, Policy, Step, parse_policy
from .alerts.generic import FieldPathError, GenericFields
from .alerts.models import Severity, SourceKind
from .alerts.routing import Route, load_routes
from .webhook_url import placeholder_webhook_url

CONF_KIND: Final = "kind"
CONF_RECIPIENTS: Final = "recipients"
CONF_SEND_RESOLVED: Final = "send_resolved"
CONF_TOKEN: Final = "token"  # noqa: S105 - the name of a field, not a secret
CONF_ROUTES: Final = "routes"
CONF_FIELDS: Final = "fields"
CONF_LOCAL_ONLY: Final = "local_only"
CONF_ESCALATION: Final = "escalation"
CONF_ESCALATION_SEVERITY: Final = "escalation_severity"
CONF_ESCALATION_REPEAT: Final = "escalation_repeat"
CONF_ANNOUNCE_ACK: Final = "announce_ack"
CONF_MESSAGE_TEMPLATE: Final = "message_template"
CONF_RESOLVED_TEMPLATE: Final = "resolved_template"
NO_ESCALATION: Final = Policy(())
# The user name of HTTP Basic (CONTRACT.md, "Alert sources"); the token is the password
BASIC_USER: Final = "sms_alerts"


@dataclass(frozen=True, kw_only=True)
class SourceConfig:
    """One alert source as its subentry describes it."""

    subentry_id: str
    name: str
    kind: SourceKind
    webhook_id: str
    token: str
    recipients: tuple[str, ...]
    send_resolved: bool
    routes: tuple[Route, ...]
    fields: GenericFields | None
    local_only: bool
    # Steps empty: no alert of the source is escalated
    escalation: Policy = NO_ESCALATION
    announce_ack: bool = True
    # Home Assistant templates of the firing and the resolved SMS ("": the default text)
    message_template: str = ""
    resolved_template: str = ""

    @classmethod
    def from_subentry(cls, subentry: ConfigSubentry, names: Mapping[str, str] | None = None) -> SourceConfig:
        """Read a subentry; raise ValueError when it cannot be used (fields or a policy edited by hand).

        `names` maps recipient names to ids, for a policy kept as text.
        """
        data: Mapping[str, Any] = subentry.data
        kind = SourceKind(data[CONF_KIND])
        fields = None
        if kind is SourceKind.GENERIC:
            try:
                fields = GenericFields.from_config(dict(data.get(CONF_FIELDS) or {}))
            except FieldPathError as err:
                raise ValueError(str(err)) from None
        return cls(
            subentry_id=subentry.subentry_id,
            name=subentry.title,
            kind=kind,
            webhook_id=str(data[CONF_WEBHOOK_ID]),
            token=str(data[CONF_TOKEN]),
            recipients=tuple(str(item) for item in data.get(CONF_RECIPIENTS) or ()),
            send_resolved=bool(data.get(CONF_SEND_RESOLVED, True)),
            routes=load_routes(data.get(CONF_ROUTES)),
            fields=fields,
            local_only=bool(data.get(CONF_LOCAL_ONLY, True)),
            escalation=load_policy(data, names or {}),
            announce_ack=bool(data.get(CONF_ANNOUNCE_ACK, True)),
            message_template=str(data.get(CONF_MESSAGE_TEMPLATE) or "").strip(),
            resolved_template=str(data.get(CONF_RESOLVED_TEMPLATE) or "").strip(),
        )


def policy_data(policy: Policy) -> list[dict[str, Any]]:
    """Return the steps of a policy as a subentry keeps them (recipient ids, so a renamed recipient stays)."""
    return [{"recipients": list(step.recipients), "wait": step.wait, "ring": step.ring} for step in policy.steps]


def load_policy(data: Mapping[str, Any], names: Mapping[str, str]) -> Policy:
    """Read a source's escalation policy: steps as `policy_data` writes them, or the text a user writes.

    Raise ValueError for one that cannot be read (edited by hand).
    """
    try:
        severity = Severity(data.get(CONF_ESCALATION_SEVERITY, Severity.CRITICAL))
        repeat = int(data.get(CONF_ESCALATION_REPEAT, 0))
        raw = data.get(CONF_ESCALATION) or []
        if isinstance(raw, str):
            return parse_policy(raw, names, repeat=repeat, severity=severity)
        steps = tuple(
            Step(tuple(str(who) for who in step["recipients"]), int(step["wait"]), ring=bool(step.get("ring")))
            for step in raw
        )
    except (KeyError, TypeError, ValueError) as err:
        raise ValueError(f"escalation: {err}") from None
    bad_wait = any(not step.recipients or not 0 < step.wait <= MAX_WAIT_MINUTES for step in steps)
    if bad_wait or len(steps) > MAX_STEPS or not 0 <= repeat <= MAX_REPEAT:
        raise ValueError("escalation: a step, a wait or the repeat is out of bounds")
    return Policy(steps, repeat, severity)


def _bytes(text: str) -> bytes:
    """Encode any text a header may hold, for a constant-time comparison."""
    return text.encode("utf-8", "surrogatepass")


def authorized(header: str | None, token: str) -> bool:
    """Tell whether an Authorization header carries the token: `Bearer <token>` or Basic `sms_alerts:<token>`."""
    if not header or not token:
        return False
    scheme, _, value = header.strip().partition(" ")
    value = value.strip()
    if scheme.lower() == "bearer":
        return hmac.compare_digest(_bytes(value), _bytes(token))
    if scheme.lower() != "basic":
        return False
    try:
        user, sep, password = base64.b64decode(value, validate=True).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return False
    # Both compared every time: how long it takes tells nothing about which part was wrong
    user_ok = hmac.compare_digest(_bytes(user), _bytes(BASIC_USER))
    password_ok = hmac.compare_digest(_bytes(password), _bytes(token))
    return bool(sep) and user_ok and password_ok


def source_url(hass: HomeAssistant, webhook_id: str, *, local_only: bool) -> str:
    """Return the address to give the monitoring system: the local one, or the external one where allowed."""
    try:
        base = get_url(hass, allow_external=not local_only, prefer_external=not local_only, allow_cloud=False)
    except NoURLAvailableError:
        return placeholder_webhook_url(webhook_id)
    return f"{base}{webhook.async_generate_path(webhook_id)}"
