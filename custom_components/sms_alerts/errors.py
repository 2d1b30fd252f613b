"""Turn errors of the message and provider layers into translated Home Assistant exceptions."""

from __future__ import annotations

from homeassistant.exceptions import HomeAssistantError, ServiceValidationError

from .const import DOMAIN
from .message import MessageError


def validation_error(err: MessageError) -> ServiceValidationError:
    """Bad input from the caller: the key of the message layer is the translation key."""
    return ServiceValidationError(
        translation_domain=DOMAIN,
        translation_key=err.key,
        translation_placeholders=err.placeholders,
    )


def send_failed(failed: int, total: int, errors: str) -> HomeAssistantError:
    """Report that some or all targets of a send failed."""
    return HomeAssistantError(
        translation_domain=DOMAIN,
        translation_key="send_failed",
        translation_placeholders={"failed": str(failed), "total": str(total), "errors": errors},
    )


class EntryUnloadingError(HomeAssistantError):
    """The entry unloaded before its outbox took the alert: nothing was taken (the caller tells or tries again)."""


def entry_unloading(title: str) -> EntryUnloadingError:
    """Report that an entry's outbox closed before it took an alert."""
    return EntryUnloadingError(
        translation_domain=DOMAIN,
        translation_key="entry_not_loaded",
        translation_placeholders={"entry": title},
    )
