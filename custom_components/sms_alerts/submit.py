"""Handing an alert to an outbox from Home Assistant: its MessageError becomes a translated error, its failures one."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from .const import DEFAULT_SEVERITY
from .errors import entry_unloading, send_failed, validation_error
from .message import MessageError
from .outbox import Accepted, Outbox, OutboxClosedError, SendOptions, SendReport


@contextlib.contextmanager
def _validated() -> Iterator[None]:
    """Turn the outbox's MessageError into a translated validation error, here at the boundary.

    An outbox that closed before it took the alert (its entry unloads) is a translated EntryUnloadingError.
    """
    try:
        yield
    except MessageError as err:
        raise validation_error(err) from err
    except OutboxClosedError as err:
        raise entry_unloading(err.title) from err


async def async_submit(
    outbox: Outbox,
    message: str,
    title: str | None,
    targets: list[str] | None,
    options: SendOptions,
    severity: str = DEFAULT_SEVERITY,
) -> SendReport:
    """Hand an alert to an entry's outbox and wait for its first send; bad input is a translated error."""
    with _validated():
        return await outbox.async_submit(message, title, targets, options, severity)


async def async_accept(
    outbox: Outbox,
    message: str,
    title: str | None,
    targets: list[str] | None,
    options: SendOptions,
    severity: str = DEFAULT_SEVERITY,
    *,
    written: bool = True,
) -> Accepted:
    """Hand an alert to an outbox; return once it is on disk (`written`) or taken; bad input is a translated error."""
    with _validated():
        return await outbox.async_accept(message, title, targets, options, severity, written=written)


def raise_for_failures(report: SendReport) -> None:
    """Raise one translated error naming every failed target."""
    failed = report.failed
    if failed:
        errors = "; ".join(f"{result.target}: {result.error}" for result in failed)
        raise send_failed(len(failed), len(report.results), errors)
