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
# The IPEX webhook address the user was given to paste into SMS Chat (holds the webhook id: redacted)
CONF_WEBHOOK_URL: Final = "webhook_url"
SUBENTRY_RECIPIENT: Final = "recipient"
# A monitoring system that posts alerts to its own webhook (CONTRACT.md, "Alert sources")
SUBENTRY_ALERT_SOURCE: Final = "alert_source"

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
SERVICE_LIST_WAITING: Final = "list_waiting"
SERVICE_DROP_WAITING: Final = "drop_waiting"
# Entity action of the recipients' notify entities
SERVICE_SEND_MESSAGE: Final = "send_message"

# Dispatcher signals of an entry's outbox: format with the entry id
SIGNAL_SEND_REPORT: Final = "sms_alerts_send_report_{}"
SIGNAL_QUEUE_CHANGED: Final = "sms_alerts_queue_changed_{}"
# What the entry's event entities show (inbound SMS, delivery reports, acknowledgements, given-up messages)
SIGNAL_ENTRY_EVENT: Final = "sms_alerts_entry_event_{}"
# The open alerts of an entry's alert sources changed
SIGNAL_ALERTS_CHANGED: Final = "sms_alerts_alerts_changed_{}"

# Options
CONF_FALLBACK_ENTRY: Final = "fallback_entry"
CONF_MAX_AGE_HOURS: Final = "max_age_hours"
CONF_HANDOVER_MINUTES: Final = "handover_minutes"
DEFAULT_MAX_AGE_HOURS: Final = 24
DEFAULT_HANDOVER_MINUTES: Final = 10
CONF_DEDUP_MINUTES: Final = "dedup_minutes"
CONF_RATE_LIMIT: Final = "rate_limit"
CONF_DAILY_BUDGET: Final = "daily_budget"
DEFAULT_DEDUP_MINUTES: Final = 5
DEFAULT_RATE_LIMIT: Final = 10
DEFAULT_DAILY_BUDGET: Final = 0

CONF_LONG_MESSAGES: Final = "long_messages"
LONG_SPLIT: Final = "split"
LONG_SINGLE: Final = "single"
CONF_GSM_ONLY: Final = "gsm_only"
CONF_ACK_REFERENCE: Final = "ack_reference"

# Recipient quiet hours (subentry fields)
CONF_QUIET_START: Final = "quiet_start"
CONF_QUIET_END: Final = "quiet_end"
# The severity of what the recipient's notify entity sends (older subentries have none: warning)
CONF_SEVERITY: Final = "severity"

# Retries: exponential backoff with jitter, 30 s doubling to a 30 min cap
RETRY_INITIAL: Final = 30.0
RETRY_MAX: Final = 1800.0
RETRY_JITTER: Final = 0.2

EVENT_FAILED: Final = "sms_alerts_failed"
EVENT_RECEIVED: Final = "sms_alerts_received"
EVENT_DELIVERY: Final = "sms_alerts_delivery"
EVENT_ACKNOWLEDGED: Final = "sms_alerts_acknowledged"
EVENT_ALERT: Final = "sms_alerts_alert"
SERVICE_ACKNOWLEDGE: Final = "acknowledge"

REQUEST_TIMEOUT: Final = 30.0
