"""One provider call for the items of one message, and what each answer means for its item (pure)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from ..api.base import OutboundSms, Outcome, Provider, Receipt, error_receipt, mask_target
from .models import Block, QueuedItem, backoff


def outbound(item: QueuedItem, tz: dt.tzinfo) -> OutboundSms:
    """Return what the provider sends for an item (a postponed time in Home Assistant's time zone `tz`)."""
    options = item.options
    postpone = options.postpone
    if postpone is not None:
        # A time without a zone is Home Assistant's local time
        postpone = postpone.replace(tzinfo=tz) if postpone.tzinfo is None else postpone.astimezone(tz)
    return OutboundSms(
        text=item.text,
        telegram=options.telegram,
        telegram_only=options.telegram_only,
        ring=options.ring,
        flash=options.flash,
        postpone=postpone,
        gsm=options.gsm,
    )


async def async_call(
    provider: Provider, items: list[QueuedItem], tz: dt.tzinfo, proceed: Callable[[], bool]
) -> list[Receipt]:
    """Send one message's items in one call, no new request once `proceed` says no; an unexpected error keeps them."""
    try:
        return await provider.async_send(outbound(items[0], tz), [item.target for item in items], proceed)
    except Exception as err:  # noqa: BLE001 - logged with its traceback; the messages must not be lost
        error = provider.unexpected_error(err, ", ".join(mask_target(item.target) for item in items))
        return [error_receipt(item.target, error) for item in items]


class Verdict(StrEnum):
    """What an answer means for its item."""

    SENT = "sent"
    # Try again at `next_attempt`
    RETRY = "retry"
    # The entry sends nothing until its credentials or its account are fixed
    BLOCK = "block"
    # This entry cannot deliver it: the fallback takes it, or it is given up
    FAIL = "fail"


@dataclass(frozen=True, kw_only=True)
class Answer:
    """The meaning of one provider answer for one item."""

    verdict: Verdict
    error: str
    message_id: str | None = None
    next_attempt: float = 0.0
    block: Block | None = None
    # The device failed the request (not a refusal of this one target): no other waiting message is tried soon
    device_failed: bool = False


def interpret(receipt: Receipt, attempts: int, now: float) -> Answer:
    """Say what an answer means for an item tried `attempts` times before this request."""
    outcome = receipt.outcome
    error = receipt.error or str(outcome)
    device_failed = outcome not in (Outcome.SENT, Outcome.TARGET)
    if outcome is Outcome.SENT:
        return Answer(verdict=Verdict.SENT, error="", message_id=receipt.message_id)
    if outcome is Outcome.TRANSIENT and (receipt.max_attempts is None or attempts + 1 < receipt.max_attempts):
        return Answer(
            verdict=Verdict.RETRY,
            error=error,
            next_attempt=now + backoff(attempts + 1, receipt.retry_after),
            device_failed=device_failed,
        )
    if outcome in (Outcome.AUTH, Outcome.CONFIG):
        block = Block.AUTH if outcome is Outcome.AUTH else Block.CONFIG
        return Answer(verdict=Verdict.BLOCK, error=error, block=block, device_failed=device_failed)
    return Answer(verdict=Verdict.FAIL, error=error, device_failed=device_failed)
