"""Wildix PBX credentials: the sender's login (HTTP Basic) or a Company API key (Bearer), and what a refusal means."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

CONF_USERNAME = "username"
CONF_PASSWORD = "password"  # noqa: S105 - the name of a field, not a secret
CONF_API_KEY = "api_key"

# Company API keys on the PBX API: "Authorization: Bearer wsk-v1-…", WMS 7.09 or later
# (docs.wildix.com/guides/2026/05/25/company-api-key-pbx-guide)
API_KEY_PREFIX = "wsk-v1-"
# What a refusal of each kind is called (form error, reauth, log)
INVALID_AUTH = "invalid_auth"
BASIC_DISABLED = "basic_disabled"
API_KEY_SCOPE = "api_key_scope"
# Words in a refusal of a Basic login that point at keys [assumed: no public page quotes the PBX's text]
_KEY_WORDS = ("api key", "api-key", "apikey", "bearer")
_OFF_WORDS = ("disabled", "not allowed", "not supported")
_FORBIDDEN = 403
# What the user must do about a refusal, added to the PBX's reason (logs, results, reauth)
AUTH_HINTS = {
    BASIC_DISABLED: "this PBX accepts only API keys: create one in WMS, PBX > Integrations > Company API Keys",
    API_KEY_SCOPE: "the API key lacks the scope for sending SMS, e.g. pbx:*",
}


class AuthKind(StrEnum):
    """How the integration logs in to the PBX."""

    LOGIN = "login"
    API_KEY = "api_key"


def basic_auth(username: str, password: str) -> str:
    """Return an HTTP Basic Authorization value (UTF-8); built by hand, as aiohttp.BasicAuth is deprecated."""
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode("ascii")


def bearer_auth(api_key: str) -> str:
    """Return the Authorization value of an API key, as the PBX API guide and n8n-nodes-wildix send it."""
    return f"Bearer {api_key}"


@dataclass(frozen=True, kw_only=True)
class WildixAuth:
    """The Authorization header of every request, and whose it is (never the secret in a repr)."""

    kind: AuthKind
    login: str | None
    header: str = field(repr=False)

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> WildixAuth:
        """Use the entry's API key if it has one, else the sender's username and password."""
        api_key = str(config.get(CONF_API_KEY) or "").strip()
        if api_key:
            return cls(kind=AuthKind.API_KEY, login=None, header=bearer_auth(api_key))
        username = str(config[CONF_USERNAME])
        return cls(kind=AuthKind.LOGIN, login=username, header=basic_auth(username, str(config[CONF_PASSWORD])))

    @property
    def headers(self) -> dict[str, str]:
        """Return the header to send with each request."""
        return {"Authorization": self.header}

    def refusal(self, status: int, headers: Mapping[str, str], reason: str) -> str:
        """Tell what a refused request means: wrong credentials, a PBX that takes only keys, or a key without scope.

        A key-only PBX [assumed] names Bearer, not Basic, in WWW-Authenticate, or says so in its reason.
        A 403 to a key is a key the PBX knows that lacks the route's scope [assumed: the usual meaning of 403].
        """
        if self.kind is AuthKind.API_KEY:
            return API_KEY_SCOPE if status == _FORBIDDEN else INVALID_AUTH
        offered = headers.get("WWW-Authenticate", "").lower()
        if "bearer" in offered and "basic" not in offered:
            return BASIC_DISABLED
        text = reason.lower()
        basic_off = "basic" in text and any(word in text for word in _OFF_WORDS)
        return BASIC_DISABLED if basic_off or any(word in text for word in _KEY_WORDS) else INVALID_AUTH
