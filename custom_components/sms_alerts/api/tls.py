"""Why a TLS connection to a device failed, told by OpenSSL's reason and verify codes, and what to do about it."""

from __future__ import annotations

import asyncio
import ssl
from typing import Final

from yarl import URL

# The cases a user can act on; each is a form error key of its own. An untrusted certificate keeps
# the key that the form and the repair issue always had for it (ssl_error).
PLAIN_HTTP: Final = "plain_http"
UNTRUSTED: Final = "ssl_error"
NAME_MISMATCH: Final = "ssl_name_mismatch"
EXPIRED: Final = "ssl_expired"
WEAK: Final = "weak_tls"
FAILED: Final = "tls_failed"
CASES: Final = (PLAIN_HTTP, UNTRUSTED, NAME_MISMATCH, EXPIRED, WEAK, FAILED)

# What each case means and what to do, for the log, the raised error and the repair issue's {error}
ADVICE: Final = {
    PLAIN_HTTP: "the device answers plain HTTP on this port, not HTTPS: write the address as http://…",
    UNTRUSTED: "the certificate of the device is self-signed or from an unknown authority: "
    "install one from a known authority, or untick Verify SSL",
    NAME_MISMATCH: "the certificate of the device is for another name than this address: "
    "use the name the certificate was made for, or untick Verify SSL",
    EXPIRED: "the certificate of the device has expired or is not valid yet: renew it, or check the device's clock",
    WEAK: "the device offers only old TLS ciphers or protocols (tick Allow older encryption)",
    FAILED: "the TLS handshake with the device failed (old encryption, or no HTTPS on this port)",
}

# X509_V_ERR_* verify codes (openssl/openssl:include/openssl/x509_vfy.h.in); stable across OpenSSL 1.1 to 3.6
_UNTRUSTED_CODES = frozenset({2, 18, 19, 20, 21})  # no issuer, self-signed leaf or chain, unknown local issuer
_EXPIRED_CODES = frozenset({9, 10})  # not yet valid, expired
_NAME_CODES = frozenset({62, 64})  # host name mismatch, IP address mismatch
_WEAK_CODES = frozenset({66, 67, 68})  # end-entity key, CA key or CA digest too weak for the security level

# SSL_R_* reasons of a handshake that found no cipher, protocol or key size both sides accept
_WEAK_REASONS = (
    "HANDSHAKE_FAILURE",
    "NO_SHARED_CIPHER",
    "NO_CIPHERS_AVAILABLE",
    "NO_SUITABLE",
    "UNSUPPORTED_PROTOCOL",
    "PROTOCOL_VERSION",
    "VERSION_TOO_LOW",
    "DH_KEY_TOO_SMALL",
    "EE_KEY_TOO_SMALL",
    "CA_MD_TOO_WEAK",
    "INSUFFICIENT_SECURITY",
    "UNSAFE_LEGACY_RENEGOTIATION",
)
# SSL_R_* reasons of a TLS client that got an HTTP answer ("HTTP/1.1 400 …" read as a record header):
# WRONG_VERSION_NUMBER on OpenSSL 3.0 and 3.6 alike (HTTP_REQUEST is what a server sees the other way round)
_PLAIN_HTTP_REASONS = ("WRONG_VERSION_NUMBER", "HTTP_REQUEST")
# How much of a plain HTTP answer the probe reads
_PROBE_READ = 5


def _ssl_errors(err: BaseException) -> list[ssl.SSLError]:
    """Collect the ssl.SSLError objects in an error's chain (aiohttp keeps them as os_error or certificate_error)."""
    found: list[ssl.SSLError] = []
    seen: set[int] = set()
    current: BaseException | None = err
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ssl.SSLError):
            found.append(current)
        nested = getattr(current, "certificate_error", None) or getattr(current, "os_error", None)
        current = nested if isinstance(nested, BaseException) else current.__cause__ or current.__context__
    return found


def is_weak_tls(err: BaseException) -> bool:
    """Tell a handshake refused for old ciphers, protocols or key sizes from other TLS failures."""
    return tls_case(err, weak_option=True) == WEAK


def tls_case(err: BaseException, *, weak_option: bool) -> str:
    """Name the case of a failed TLS connection; a weak one only where the entry offers older encryption."""
    for error in _ssl_errors(err):
        case = _case_of(error)
        if case is not None:
            return FAILED if case == WEAK and not weak_option else case
    return FAILED


_BY_CODE: Final = {
    **dict.fromkeys(_NAME_CODES, NAME_MISMATCH),
    **dict.fromkeys(_EXPIRED_CODES, EXPIRED),
    **dict.fromkeys(_WEAK_CODES, WEAK),
}


def _case_of(error: ssl.SSLError) -> str | None:
    """Read one SSL error's verify code or reason; None where it has neither that tells (aiohttp's wrappers)."""
    code, reason = getattr(error, "verify_code", None), getattr(error, "reason", None)
    if isinstance(code, int) and code:
        return _BY_CODE.get(code, UNTRUSTED)
    reason = reason.upper() if isinstance(reason, str) else ""
    if any(word in reason for word in _PLAIN_HTTP_REASONS):
        return PLAIN_HTTP
    if any(word in reason for word in _WEAK_REASONS):
        return WEAK
    return UNTRUSTED if reason == "CERTIFICATE_VERIFY_FAILED" else None


async def async_answers_plain_http(url: URL, wait: float) -> bool:
    """Tell whether an https address's port speaks plain HTTP: no TLS handshake there, an HTTP answer instead.

    The handshake is tried first, so that a TLS server that also answers plain requests with an
    error page (as nginx does) is not taken for a plain one.
    """
    if url.scheme != "https" or not url.host or url.port is None:
        return False
    if await _async_handshakes(url.host, url.port, wait):
        return False
    request = f"HEAD / HTTP/1.0\r\nHost: {url.host}\r\nConnection: close\r\n\r\n".encode()
    try:
        async with asyncio.timeout(wait):
            reader, writer = await asyncio.open_connection(url.host, url.port)
            try:
                writer.write(request)
                await writer.drain()
                answer = await reader.read(_PROBE_READ)
            finally:
                writer.close()
    except (OSError, TimeoutError):
        return False
    return answer == b"HTTP/"


async def _async_handshakes(host: str, port: int, wait: float) -> bool:
    """Tell whether a TLS handshake of any kind (no verification, old ciphers allowed) succeeds at host and port."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.set_ciphers("DEFAULT:@SECLEVEL=0")
    try:
        async with asyncio.timeout(wait):
            _, writer = await asyncio.open_connection(host, port, ssl=context, server_hostname=host)
    except (OSError, TimeoutError):  # ssl.SSLError is an OSError
        return False
    writer.close()
    return True
