"""The config entry as the outbox sees it: any entry of this integration.

The outbox reads an entry's title, id, options and recipients, never its own runtime data (the package
must not depend on what the entry holds, which holds the outbox); a fallback entry's outbox is read
through `router.Fallback`.
"""

from __future__ import annotations

from typing import Any

from homeassistant.config_entries import ConfigEntry

type OutboxEntry = ConfigEntry[Any]
