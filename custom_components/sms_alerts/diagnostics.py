"""Diagnostics: settings, recipients and the last send, with secrets and numbers redacted."""

from __future__ import annotations

from typing import Any

from homeassistant.components.diagnostics import async_redact_data
from homeassistant.const import CONF_API_KEY, CONF_PASSWORD, CONF_URL, CONF_USERNAME, CONF_WEBHOOK_ID
from homeassistant.core import HomeAssistant
from homeassistant.util import dt as dt_util

from .api.base import mask_target
from .const import CONF_TARGET, CONF_WEBHOOK_URL, SUBENTRY_RECIPIENT
from .data import SmsAlertsConfigEntry

TO_REDACT = {
    CONF_API_KEY,
    CONF_PASSWORD,
    CONF_URL,
    CONF_USERNAME,
    CONF_WEBHOOK_ID,
    CONF_WEBHOOK_URL,
    "api_token",
    "access_token",
    "refresh_token",
    "auth_url",
    "instant_url",
    "sender",
    "gsm",
    # GSM modem: the SIM PIN, the SMS centre's number, and the port (a by-id path names the modem's serial number)
    "pin",
    "smsc",
    "port",
}


async def async_get_config_entry_diagnostics(hass: HomeAssistant, entry: SmsAlertsConfigEntry) -> dict[str, Any]:
    """Return what helps to debug an entry, without anything private."""
    data = entry.runtime_data
    report = data.outbox.last_report
    now = dt_util.utcnow().timestamp()
    diagnostics: dict[str, Any] = {
        "entry": {
            "version": f"{entry.version}.{entry.minor_version}",
            "data": async_redact_data(dict(entry.data), TO_REDACT),
            "options": async_redact_data(dict(entry.options), TO_REDACT),
        },
        "recipients": [
            {
                "subentry_type": subentry.subentry_type,
                "target": mask_target(subentry.data.get(CONF_TARGET, "")),
            }
            for subentry in entry.subentries.values()
            if subentry.subentry_type == SUBENTRY_RECIPIENT
        ],
        "provider": data.provider.redacted_view(),
        "outbox": {
            "block": data.outbox.block,
            "queued": [
                {
                    "target": mask_target(item.target),
                    "length": len(item.text),
                    "parts": item.parts,
                    "severity": item.severity,
                    "age_s": round(now - item.created),
                    "attempts": item.attempts,
                    "next_attempt_in_s": max(0, round(item.next_attempt - now)),
                    "last_error": item.last_error,
                    "entries_tried": len(item.visited),
                }
                for item in data.outbox.items
            ],
        },
        "last_send": None
        if report is None
        else {
            "status": str(report.status),
            "time": report.time.isoformat(),
            "results": [{**result.as_dict(), "target": mask_target(result.target)} for result in report.results],
        },
    }
    if sources := data.alert_sources.sources:
        # Their webhook ids and tokens are left out: either lets anyone post alerts
        diagnostics["alert_sources"] = [
            {
                "kind": str(source.kind),
                "local_only": source.local_only,
                "send_resolved": source.send_resolved,
                "recipients": len(source.recipients),
                "routes": len(source.routes),
                "escalation_steps": len(source.escalation.steps),
                "maintenance": data.alert_sources.maintenance.describe(source_id),
                "open": [
                    {
                        "status": alert.status,
                        "severity": alert.severity,
                        "count": alert.count,
                        "told": len(alert.notified),
                        **_escalation(data.alert_sources.escalation_of(alert)),
                    }
                    for alert in data.alert_sources.open_alerts(source_id)
                ],
            }
            for source_id, source in sources.items()
        ]
    return diagnostics


def _escalation(shown: dict[str, Any] | None) -> dict[str, Any]:
    """Describe an alert's escalation without names or numbers (who was paged is counted, not named)."""
    if shown is None:
        return {}
    kept = {key: value for key, value in shown.items() if key not in ("paged", "acknowledged_by")}
    return {"escalation": {**kept, "paged": len(shown["paged"]), "acknowledged": shown["acknowledged_by"] is not None}}
