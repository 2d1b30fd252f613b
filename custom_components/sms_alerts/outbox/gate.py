"""Whether an entry may send now: refused credentials, an unusable account, a backoff, and their repair issues."""

from __future__ import annotations

from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir

from ..api.base import Receipt
from ..const import DOMAIN, LOGGER, RETRY_INITIAL, RETRY_MAX
from .entry import OutboxEntry
from .models import Block

# Repair issues an entry can raise; each clears after the next successful send
ENTRY_ISSUES = (
    "no_api_permission",
    "ssl_error",
    "weak_tls",
    "entry_rejected",
    "sms_api_disabled",
    "sms_not_enabled",
    "invalid_sender",
    "no_sms_api",
    "redirected",
    "invalid_gsm",
    "sender_not_allowed",
    "no_sender",
    "daily_budget",
    # GSM modem: the SIM and its subscription
    "no_sim",
    "sim_puk",
    "sim_locked",
    "sms_barred",
    "smsc_unknown",
    "modem_unsupported",
)
# Issues whose fix is another login: their fix flow starts reauthentication
REAUTH_ISSUES = frozenset({"no_api_permission"})


class Gate:
    """One entry's permission to make requests, and the repair issues that explain why it has none."""

    def __init__(self, hass: HomeAssistant, entry: OutboxEntry) -> None:
        """Open: nothing is known against the entry yet."""
        self._hass = hass
        self._entry = entry
        self.block: Block | None = None
        self.block_error: str | None = None
        # No request before this time (an unusable account is tried once per retry cap)
        self.retry_at = 0.0
        # When a request last failed (0 once one went through): a new alert then tries no waiting message
        self.failed_at = 0.0
        # Repair issues of refused accounts may be left from before a restart: the first success clears them
        self._issues_open = True

    @property
    def auth_refused(self) -> bool:
        """Tell whether refused credentials stop every request until reauthentication."""
        return self.block is Block.AUTH

    def may_send(self, now: float) -> bool:
        """Tell whether the entry may make requests now (no refused login, no backoff running)."""
        return self.block is not Block.AUTH and now >= self.retry_at

    def may_try_waiting(self, now: float) -> bool:
        """Tell whether a new alert may try the messages waiting before it (not right after a failed request)."""
        return now >= self.failed_at + RETRY_INITIAL

    def failed(self, now: float) -> None:
        """Note a request the device failed."""
        self.failed_at = now

    def retry_not_before(self, when: float) -> None:
        """Hold every request until `when` at least."""
        self.retry_at = max(self.retry_at, when)

    def set_block(self, block: Block, receipt: Receipt, now: float) -> None:
        """Stop sending: start reauth for refused credentials, raise a repair issue for an unusable account."""
        first = self.block is None
        self.block = block
        self.block_error = receipt.error
        if block is Block.AUTH:
            if first:
                LOGGER.warning("%s refused the credentials; reauthentication started", self._entry.title)
            self._entry.async_start_reauth(self._hass)
            return
        # An account fixed on the device side is found by one try per retry cap, never more often
        self.retry_at = now + RETRY_MAX
        self._issues_open = True
        key = receipt.error_key if receipt.error_key in ENTRY_ISSUES else "entry_rejected"
        ir.async_create_issue(
            self._hass,
            DOMAIN,
            self.issue_id(key),
            is_fixable=key in REAUTH_ISSUES,
            severity=ir.IssueSeverity.ERROR,
            translation_key=key,
            translation_placeholders={**self._placeholders(), "error": receipt.error or ""},
            data={"entry_id": self._entry.entry_id},
        )

    def over_budget(self, budget: int) -> None:
        """Raise the repair issue of a spent daily budget."""
        self._issues_open = True
        ir.async_create_issue(
            self._hass,
            DOMAIN,
            self.issue_id("daily_budget"),
            is_fixable=False,
            severity=ir.IssueSeverity.WARNING,
            translation_key="daily_budget",
            translation_placeholders={**self._placeholders(), "budget": str(budget)},
        )

    def _placeholders(self) -> dict[str, str]:
        """Name the entry, and link to it on its integration's page (for Reconfigure and Configure)."""
        return {
            "entry": self._entry.title,
            "entry_url": f"/config/integrations/integration/{DOMAIN}#config_entry={self._entry.entry_id}",
        }

    def succeeded(self) -> bool:
        """Open after a success and clear the repair issues; return whether something was held back before."""
        waited = bool(self.block is not None or self.retry_at or self.failed_at)
        self.block = None
        self.block_error = None
        self.retry_at = 0.0
        if self._issues_open:
            self._issues_open = False
            for key in ENTRY_ISSUES:
                ir.async_delete_issue(self._hass, DOMAIN, self.issue_id(key))
        return waited

    def recovered(self) -> None:
        """End the backoff: the provider answers again (refused credentials still wait for a new login)."""
        self.retry_at = 0.0
        self.failed_at = 0.0

    def issue_id(self, key: str | None) -> str:
        """One repair issue per entry and cause."""
        return f"{self._entry.entry_id}_{key if key in ENTRY_ISSUES else 'entry_rejected'}"
