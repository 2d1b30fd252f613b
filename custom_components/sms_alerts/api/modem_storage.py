"""Which of a modem's message storages is read: AT+CPMS, 3GPP TS 27.005 §3.2.2.

AT+CMGR, AT+CMGL and AT+CMGD act on <mem1>, the storage chosen for reading and deleting. A modem keeps what it
receives in <mem3>, and status reports (AT+CNMI's <ds> 2) in a storage of its choice, often "SR"; its
indication names the storage: `+CMTI: "ME",3`, `+CDSI: "SR",1`. Index 3 of another storage is another message
or none. So the storage an indication names is chosen as <mem1> before the read (`AT+CPMS="ME"`), as
ModemManager does (`cmti_received` locks the storage it names, src/mm-broadband-modem.c) and python-gsmmodem
(`readStoredSms(index, memory)` sends `AT+CPMS="<memory>"` first). The choice is remembered until the link
opens again; whoever reads holds `lock` from the choice to the delete, so that no other read moves <mem1>
meanwhile.
"""

from __future__ import annotations

import asyncio
import re
from typing import Protocol

from .base import ProviderError

# The storages of TS 27.005 §3.2.2: broadcast, the modem's memory, either, the SIM, the terminal, status reports
STORAGES = frozenset({"BM", "ME", "MT", "SM", "TA", "SR"})
# AT+CPMS? answers `+CPMS: "SM",3,30,"SM",3,30,"ME",0,100` (<mem1>,<used1>,<total1>,... up to <mem3>)
_CPMS = re.compile(
    r'^\+CPMS:\s*"?(?P<mem1>[A-Z]{2})"?\s*,\s*\d+\s*,\s*\d+(?:\s*,\s*"?(?P<mem2>[A-Z]{2})"?\s*,'
    r'\s*\d+\s*,\s*\d+(?:\s*,\s*"?(?P<mem3>[A-Z]{2})"?\s*,\s*\d+\s*,\s*\d+)?)?'
)


# How the log names each storage
_WHERE = {
    "SM": "on the SIM",
    "ME": "in the modem's memory",
    "MT": "in the modem's memory",
    "SR": "among the stored status reports",
    "BM": "among the broadcast messages",
    "TA": "in the terminal's memory",
}


def where(storage: str | None) -> str:
    """Name a storage for the log: "on the SIM"; "in the modem" when not named."""
    return _WHERE.get(storage or "", "in the modem")


class CommandPort(Protocol):
    """One command at a time on the linked modem."""

    async def async_command(self, command: str, doing: str) -> list[str]:
        """Run one command; its answer's lines."""
        ...


class UnknownStorageError(ValueError):
    """An indication names a storage TS 27.005 does not know: which message it means cannot be told."""


def parse_indication(args: str) -> tuple[str | None, int] | None:
    """Read what follows `+CMTI:` or `+CDSI:`: (storage, index); the storage None when not named.

    `"SM",3` gives ("SM", 3); `3` gives (None, 3); no index gives None. A storage TS 27.005 does not name
    raises UnknownStorageError.
    """
    head, _, index = args.rpartition(",")
    index = index.strip()
    if not index.isascii() or not index.isdigit():
        return None
    storage = head.strip().strip('"').strip().upper()
    if not storage:
        return None, int(index)
    if storage not in STORAGES:
        raise UnknownStorageError(storage)
    return storage, int(index)


def parse_preferred(lines: list[str]) -> tuple[str, str | None] | None:
    """Read AT+CPMS?'s answer: (<mem1>, <mem3>), <mem3> None when the modem names only the first; None if unread."""
    for line in lines:
        match = _CPMS.match(line.strip())
        if match is not None:
            return match["mem1"], match["mem3"]
    return None


class StorageChoice:
    """The storage the modem reads from now, as far as this side knows; chosen anew when it must change."""

    def __init__(self, port: CommandPort) -> None:
        """Belong to one modem's link; nothing known of its choice yet."""
        self._port = port
        self.lock = asyncio.Lock()
        # <mem1> as last chosen or read here; None: not known (the modem keeps its own across our restarts)
        self.current: str | None = None

    def forget(self) -> None:
        """Know nothing of the choice: the link opened again (the modem may have started over)."""
        self.current = None

    async def async_choose(self, storage: str | None) -> None:
        """Make `storage` the one read from (None: whichever it is); raises ProviderError if the modem refuses."""
        if storage is None or storage == self.current:
            return
        await self._port.async_command(f'AT+CPMS="{storage}"', f"choosing the {storage} storage")
        self.current = storage

    async def async_to_list(self) -> list[str | None]:
        """Where messages may wait when the link comes up: the storage read now, then the one SMS arrive in.

        From AT+CPMS?; a modem that does not answer it is read where it reads now ([None]).
        """
        try:
            lines = await self._port.async_command("AT+CPMS?", "reading the message storages")
        except ProviderError:
            return [None]
        preferred = parse_preferred(lines)
        if preferred is None:
            return [None]
        mem1, mem3 = preferred
        self.current = mem1
        return [mem1] if mem3 in (None, mem1) else [mem1, mem3]
