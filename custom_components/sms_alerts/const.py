"""Constants of the SMS Alerts integration."""

from __future__ import annotations

import logging
from typing import Final

DOMAIN: Final = "sms_alerts"
LOGGER = logging.getLogger(__package__)

# Not in homeassistant.const on 2025.4
ATTR_CONFIG_ENTRY_ID: Final = "config_entry_id"

CONF_PROVIDER: Final = "provider"
CONF_TARGET: Final = "target"
CONF_TELEGRAM: Final = "telegram"
SUBENTRY_RECIPIENT: Final = "recipient"

ATTR_MESSAGE: Final = "message"
ATTR_TITLE: Final = "title"
ATTR_TARGET: Final = "target"
ATTR_TELEGRAM: Final = "telegram"
ATTR_TELEGRAM_ONLY: Final = "telegram_only"
ATTR_RING: Final = "ring"
ATTR_FLASH: Final = "flash"
ATTR_POSTPONE: Final = "postpone"
ATTR_GSM: Final = "gsm"
ATTR_SEVERITY: Final = "severity"
SEVERITIES: Final = ("info", "warning", "critical")
DEFAULT_SEVERITY: Final = "warning"

SERVICE_SEND: Final = "send"

# Dispatcher signal carrying each finished send of an entry: format with the entry id
SIGNAL_SEND_REPORT: Final = "sms_alerts_send_report_{}"

EVENT_FAILED: Final = "sms_alerts_failed"

REQUEST_TIMEOUT: Final = 30.0
