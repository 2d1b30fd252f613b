"""IPEX / Voipex access tokens: the Keycloak grant (auth.voipex.io) and the central REST API login (restapi.ipex.cz)."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from yarl import URL

from .answers import finite_number
from .base import TransientError

# The token endpoint's public client (IpexCloud/voipex-docs:docs/auth.md)
CLIENT_ID = "api"
# Refresh ahead of expiry, so a send never carries a token about to lapse [assumed]
REFRESH_AT = 0.8
# Used when a token answer leaves out its lifetime (Keycloak always sends it)
_FALLBACK_LIFETIME = 300.0
# restapi.ipex.cz answers its login with camelCase fields (Spoje-NET/ipex-b2b:src/IPEXB2B/Token.php reads
# accessToken and expire); the superseded /v1/sso/login answer carried snake_case copies too (voipex-docs, 2022)
_RESTAPI_TOKEN_KEYS = ("accessToken", "access_token")
_RESTAPI_LIFETIME_KEYS = ("expiresIn", "expires_in")
_RESTAPI_EXPIRY_KEYS = ("expire", "expiresAt")


class TokenSource(StrEnum):
    """Where a password is exchanged for an access token."""

    # POST auth.voipex.io/token, form grant_type=password (voipex-docs:docs/auth.md; seed 002 for both APIs)
    KEYCLOAK = "keycloak"
    # POST restapi.ipex.cz/v1/token, JSON {username, password}: the central REST API's own login, used by the
    # public client Spoje-NET/ipex-b2b; the instant SMS route lives on that API
    RESTAPI = "restapi"


@dataclass(frozen=True, kw_only=True)
class _Grant:
    """Tokens from a token endpoint with their deadlines on the provider's clock (kept in memory only)."""

    access_token: str
    refresh_token: str | None
    refresh_due: float
    expires_at: float
    refresh_expires_at: float
    source: TokenSource = TokenSource.KEYCLOAK

    def __repr__(self) -> str:
        """Keep the tokens out of any accidental repr."""
        return f"_Grant(source={self.source}, expires_at={self.expires_at})"


def _grant_from(payload: Any, started: float) -> _Grant:
    """Read a Keycloak token response; lifetimes count from when the request started."""
    if not isinstance(payload, dict) or not isinstance(payload.get("access_token"), str):
        raise TransientError("the token endpoint answered without an access token", key="unexpected_response")
    lifetime = _seconds(payload.get("expires_in")) or _FALLBACK_LIFETIME
    refresh_token = payload.get("refresh_token")
    refresh_token = refresh_token if isinstance(refresh_token, str) and refresh_token else None
    refresh_lifetime = _seconds(payload.get("refresh_expires_in"))
    if refresh_token is None:
        refresh_expires_at = started
    elif refresh_lifetime is None or refresh_lifetime == 0:
        refresh_expires_at = math.inf  # Keycloak's 0 means the refresh token does not expire (offline token)
    else:
        refresh_expires_at = started + refresh_lifetime
    return _Grant(
        access_token=payload["access_token"],
        refresh_token=refresh_token,
        refresh_due=started + REFRESH_AT * lifetime,
        expires_at=started + lifetime,
        refresh_expires_at=refresh_expires_at,
    )


def restapi_grant_from(payload: Any, started: float, now: dt.datetime | None = None) -> _Grant:
    """Read a restapi.ipex.cz login answer: a token and its expiry time; no refresh token (log in again)."""
    token = None
    if isinstance(payload, dict):
        token = next((payload[key] for key in _RESTAPI_TOKEN_KEYS if isinstance(payload.get(key), str)), None)
    if not token or not isinstance(payload, dict):
        raise TransientError("the REST API login answered without an access token", key="unexpected_response")
    lifetime = next((_seconds(payload.get(key)) for key in _RESTAPI_LIFETIME_KEYS if key in payload), None)
    if not lifetime:
        lifetime = _until(payload, now or dt.datetime.now(dt.UTC))
    lifetime = lifetime or _FALLBACK_LIFETIME
    return _Grant(
        access_token=token,
        refresh_token=None,
        refresh_due=started + REFRESH_AT * lifetime,
        expires_at=started + lifetime,
        refresh_expires_at=started,
        source=TokenSource.RESTAPI,
    )


def _until(payload: dict[str, Any], now: dt.datetime) -> float | None:
    """Seconds from now to the first readable ISO-8601 expiry time (UTC when it names no zone), or None."""
    for key in _RESTAPI_EXPIRY_KEYS:
        raw = payload.get(key)
        if not isinstance(raw, str):
            continue
        try:
            when = dt.datetime.fromisoformat(raw.strip())
        except ValueError:
            continue
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.UTC)
        return max(0.0, (when - now).total_seconds())
    return None


def restapi_token_url(instant_url: str) -> str:
    """Find the REST API login next to the instant SMS route: .../v1/sms -> .../v1/token."""
    url = URL(instant_url)
    parent = url.path.rstrip("/").rpartition("/")[0]
    return str(url.with_path(f"{parent}/token", encoded=False).with_query(None))


def _seconds(value: Any) -> float | None:
    """Read a non-negative number of seconds, or None."""
    number = finite_number(value)
    return number if number is not None and number >= 0 else None
