"""The one way out: every send is prepared, handed to the provider and reported here."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.dispatcher import async_dispatcher_send
from homeassistant.util import dt as dt_util

from .api.base import OutboundSms, Outcome, Provider, Receipt, mask_target
from .const import (
    CONF_PROVIDER,
    CONF_TARGET,
    DOMAIN,
    EVENT_FAILED,
    LOGGER,
    SIGNAL_SEND_REPORT,
    SUBENTRY_RECIPIENT,
)
from .data import SmsAlertsConfigEntry
from .errors import validation_error
from .message import MessageError, PreparedMessage, prepare


class SendStatus(StrEnum):
    """Per-target statuses of CONTRACT."""

    SENT = "sent"
    QUEUED = "queued"
    FAILED = "failed"


class ReportStatus(StrEnum):
    """States of the "Last send status" sensor."""

    SENT = "sent"
    PARTIAL = "partial"
    FAILED = "failed"
    QUEUED = "queued"


@dataclass(frozen=True, kw_only=True)
class SendOptions:
    """Provider options of one send; only those the provider supports may be set."""

    telegram: bool = False
    telegram_only: bool = False
    ring: bool = False
    flash: bool = False
    postpone: dt.datetime | None = None
    gsm: str | None = None

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> SendOptions:
        """Read the options of an action call or a legacy notify `data` (already validated)."""
        return cls(**{name: data[name] for name in OPTION_NAMES if name in data})

    def asked(self) -> set[str]:
        """Names of the options that are set."""
        return {name for name, value in vars(self).items() if value}


@dataclass(frozen=True, kw_only=True)
class TargetResult:
    """What became of one target."""

    target: str
    status: SendStatus
    provider: str
    error: str | None
    parts: int

    def as_dict(self) -> dict[str, Any]:
        """Return the JSON form used in action responses."""
        return {
            "target": self.target,
            "status": str(self.status),
            "provider": self.provider,
            "error": self.error,
            "parts": self.parts,
        }


@dataclass(frozen=True, kw_only=True)
class SendReport:
    """All results of one send, as the sensor and the action see them."""

    results: tuple[TargetResult, ...]
    time: dt.datetime = field(default_factory=dt_util.utcnow)

    @property
    def status(self) -> ReportStatus:
        """Summarise: all sent, all failed, something still waiting, or a mix."""
        statuses = {result.status for result in self.results}
        if statuses == {SendStatus.SENT}:
            return ReportStatus.SENT
        if statuses == {SendStatus.FAILED}:
            return ReportStatus.FAILED
        if SendStatus.FAILED not in statuses:
            return ReportStatus.QUEUED
        return ReportStatus.PARTIAL

    @property
    def failed(self) -> list[TargetResult]:
        """Results that failed."""
        return [result for result in self.results if result.status is SendStatus.FAILED]


OPTION_NAMES = ("telegram", "telegram_only", "ring", "flash", "postpone", "gsm")

# What each provider outcome means for the target and the entry.
_STATUS: dict[Outcome, SendStatus] = {
    Outcome.SENT: SendStatus.SENT,
    Outcome.TRANSIENT: SendStatus.FAILED,
    Outcome.TARGET: SendStatus.FAILED,
    Outcome.AUTH: SendStatus.FAILED,
    Outcome.CONFIG: SendStatus.FAILED,
}


class Outbox:
    """Prepares, sends and reports the messages of one entry."""

    def __init__(self, hass: HomeAssistant, entry: SmsAlertsConfigEntry, provider: Provider) -> None:
        """Bind the outbox to its entry and provider client."""
        self._hass = hass
        self._entry = entry
        self._provider = provider
        self.last_report: SendReport | None = None

    def recipients(self) -> list[str]:
        """Targets of all the entry's recipients."""
        return [
            subentry.data[CONF_TARGET]
            for subentry in self._entry.subentries.values()
            if subentry.subentry_type == SUBENTRY_RECIPIENT
        ]

    def prepare(
        self, message: str, title: str | None, targets: Iterable[str] | None, options: SendOptions
    ) -> PreparedMessage:
        """Check text, targets and options before anything is sent; raise ServiceValidationError."""
        unsupported = options.asked() - self._provider.options
        if unsupported:
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="option_not_supported",
                translation_placeholders={
                    "option": ", ".join(sorted(unsupported)),
                    "provider": self._entry.data[CONF_PROVIDER],
                },
            )
        raw_targets = list(targets) if targets else self.recipients()
        if not raw_targets:
            raise ServiceValidationError(translation_domain=DOMAIN, translation_key="no_recipients")
        try:
            return prepare(
                message,
                title,
                raw_targets,
                region=self._hass.config.country,
                supported=self._provider.target_kinds,
            )
        except MessageError as err:
            raise validation_error(err) from err

    async def async_submit(
        self, message: str, title: str | None, targets: Iterable[str] | None, options: SendOptions
    ) -> SendReport:
        """Prepare and send: the entry point of the action and both notify paths."""
        return await self.async_send(self.prepare(message, title, targets, options), options)

    async def async_send(self, prepared: PreparedMessage, options: SendOptions) -> SendReport:
        """Send a prepared message to its targets and report the outcome of each."""
        sms = OutboundSms(
            text=prepared.text,
            telegram=options.telegram,
            telegram_only=options.telegram_only,
            ring=options.ring,
            flash=options.flash,
        )
        LOGGER.debug(
            "Sending %s %s part(s) to %s",
            prepared.info.encoding,
            prepared.info.parts,
            ", ".join(mask_target(target) for target in prepared.targets),
        )
        receipts = await self._provider.async_send(sms, prepared.targets)
        self._handle_entry_state(receipts)
        report = SendReport(results=tuple(self._result(receipt, prepared.info.parts) for receipt in receipts))
        for result in report.failed:
            self._give_up(result, prepared.text)
        self.last_report = report
        async_dispatcher_send(self._hass, SIGNAL_SEND_REPORT.format(self._entry.entry_id), report)
        return report

    def _result(self, receipt: Receipt, parts: int) -> TargetResult:
        """Turn a provider receipt into the result users see."""
        return TargetResult(
            target=str(receipt.target),
            status=_STATUS[receipt.outcome],
            provider=self._provider.key,
            error=receipt.error,
            parts=parts,
        )

    def _handle_entry_state(self, receipts: Sequence[Receipt]) -> None:
        """Start reauth on refused credentials; raise or clear the repair issue of a misconfigured account."""
        outcomes = {receipt.outcome: receipt for receipt in receipts}
        if Outcome.AUTH in outcomes:
            LOGGER.warning("%s refused the credentials; reauthentication started", self._entry.title)
            self._entry.async_start_reauth(self._hass)
        config = outcomes.get(Outcome.CONFIG)
        if config is not None:
            ir.async_create_issue(
                self._hass,
                DOMAIN,
                self._issue_id(config.error_key),
                is_fixable=False,
                severity=ir.IssueSeverity.ERROR,
                translation_key=config.error_key or "entry_rejected",
                translation_placeholders={"entry": self._entry.title, "error": config.error or ""},
            )
        if Outcome.SENT in outcomes:
            for key in ("no_api_permission", "ssl_error", "entry_rejected"):
                ir.async_delete_issue(self._hass, DOMAIN, self._issue_id(key))

    def _issue_id(self, key: str | None) -> str:
        """One repair issue per entry and cause."""
        return f"{self._entry.entry_id}_{key or 'entry_rejected'}"

    def _give_up(self, result: TargetResult, text: str) -> None:
        """Log a failed target once and fire the event automations escalate on."""
        LOGGER.warning("Message to %s via %s failed: %s", mask_target(result.target), self._entry.title, result.error)
        self._hass.bus.async_fire(
            EVENT_FAILED,
            {
                "entry_id": self._entry.entry_id,
                "target": result.target,
                "message": text,
                "error": result.error,
            },
        )
