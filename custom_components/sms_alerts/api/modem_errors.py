"""What a modem's +CMS ERROR and +CME ERROR codes mean for an alert: the project's result classes.

Codes: +CMS ERROR, 3GPP TS 27.005 §3.2.5 (0-127 are the RP cause values of TS 24.011 Annex E-2, 128-255
the TP-FCS values of TS 23.040 §9.2.3.22, 300-340 the modem's own, 500 unknown, 512 and up the maker's);
+CME ERROR, TS 27.007 §9.2. The class follows PROVIDERS.md §0: transient (the same request may work
later), target (this number cannot be served), entry (nothing can be sent until someone acts: SIM, PIN,
subscription), auth (the PIN: the entry's credential).
"""

from __future__ import annotations

from .base import AuthError, EntryRejectedError, ProviderError, TargetRejectedError, TransientError
from .modem_at import AtError

# A refusal the modem cannot name (500, maker codes): retried, but not for ever
UNNAMED_TRIES = 3

_TARGET = TargetRejectedError
_ENTRY = EntryRejectedError
_TRANSIENT = TransientError

# +CMS ERROR code -> (class, key, reason)
CMS_CODES: dict[int, tuple[type[ProviderError], str, str]] = {
    1: (_TARGET, "target_rejected", "unassigned number"),
    8: (_ENTRY, "sms_barred", "operator determined barring"),
    10: (_ENTRY, "sms_barred", "call barred"),
    21: (_TARGET, "target_rejected", "short message transfer rejected"),
    27: (_TRANSIENT, "target_unreachable", "destination out of service"),
    28: (_TARGET, "target_rejected", "unidentified subscriber"),
    29: (_ENTRY, "sms_barred", "facility rejected"),
    30: (_TARGET, "target_rejected", "unknown subscriber"),
    38: (_TRANSIENT, "no_network", "network out of order"),
    41: (_TRANSIENT, "network_busy", "temporary failure"),
    42: (_TRANSIENT, "network_busy", "congestion"),
    47: (_TRANSIENT, "network_busy", "resources unavailable"),
    50: (_ENTRY, "sms_barred", "requested facility not subscribed"),
    69: (_ENTRY, "sms_barred", "requested facility not implemented"),
    81: (_TRANSIENT, "modem_error", "invalid short message transfer reference"),
    95: (_TARGET, "target_rejected", "invalid message"),
    96: (_TARGET, "target_rejected", "invalid mandatory information"),
    97: (_TARGET, "target_rejected", "message type non-existent"),
    98: (_TRANSIENT, "modem_error", "message not compatible with the protocol state"),
    99: (_TARGET, "target_rejected", "information element non-existent"),
    111: (_TRANSIENT, "modem_error", "protocol error"),
    127: (_TRANSIENT, "network_busy", "interworking, unspecified"),
    0xC0: (_TRANSIENT, "network_busy", "SMS centre busy"),
    0xC1: (_ENTRY, "sms_barred", "no SMS centre subscription"),
    0xC2: (_TRANSIENT, "network_busy", "SMS centre system failure"),
    0xC3: (_TARGET, "target_rejected", "invalid destination address"),
    0xC4: (_TARGET, "target_rejected", "destination barred"),
    300: (_TRANSIENT, "modem_error", "modem failure"),
    301: (_TRANSIENT, "modem_busy", "SMS service of the modem reserved"),
    302: (_TRANSIENT, "modem_busy", "operation not allowed"),
    303: (_ENTRY, "modem_unsupported", "operation not supported"),
    304: (_TARGET, "target_rejected", "invalid PDU mode parameter"),
    305: (_TARGET, "target_rejected", "invalid text mode parameter"),
    310: (_ENTRY, "no_sim", "SIM not inserted"),
    311: (AuthError, "sim_pin_required", "SIM PIN required"),
    312: (_ENTRY, "sim_locked", "PH-SIM PIN required"),
    313: (_ENTRY, "sim_locked", "SIM failure"),
    314: (_TRANSIENT, "modem_busy", "SIM busy"),
    315: (_ENTRY, "sim_locked", "SIM wrong"),
    316: (_ENTRY, "sim_puk", "SIM PUK required"),
    317: (_ENTRY, "sim_locked", "SIM PIN2 required"),
    318: (_ENTRY, "sim_locked", "SIM PUK2 required"),
    320: (_TRANSIENT, "modem_error", "memory failure"),
    330: (_ENTRY, "smsc_unknown", "SMS centre address unknown"),
    331: (_TRANSIENT, "no_network", "no network service"),
    332: (_TRANSIENT, "no_network", "network timeout"),
}
# +CME ERROR code -> (class, key, reason)
CME_CODES: dict[int, tuple[type[ProviderError], str, str]] = {
    3: (_TRANSIENT, "modem_busy", "operation not allowed"),
    4: (_ENTRY, "modem_unsupported", "operation not supported"),
    10: (_ENTRY, "no_sim", "SIM not inserted"),
    11: (AuthError, "sim_pin_required", "SIM PIN required"),
    12: (_ENTRY, "sim_puk", "SIM PUK required"),
    13: (_ENTRY, "sim_locked", "SIM failure"),
    14: (_TRANSIENT, "modem_busy", "SIM busy"),
    15: (_ENTRY, "sim_locked", "SIM wrong"),
    16: (AuthError, "wrong_pin", "incorrect password"),
    17: (_ENTRY, "sim_locked", "SIM PIN2 required"),
    18: (_ENTRY, "sim_locked", "SIM PUK2 required"),
    30: (_TRANSIENT, "no_network", "no network service"),
    31: (_TRANSIENT, "no_network", "network timeout"),
    32: (_TRANSIENT, "no_network", "network not allowed, emergency calls only"),
}
# Words of a verbose error (AT+CMEE=2, or a modem that ignores AT+CMEE=1) -> the numeric code they stand for
_CME_WORDS = (
    ("not inserted", 10),
    ("pin required", 11),
    ("puk required", 12),
    ("incorrect password", 16),
    ("sim busy", 14),
    ("no network", 30),
)


def classify(err: AtError, *, doing: str) -> ProviderError:
    """Turn a failed command into the provider error of its class; `doing` names the step for the reason."""
    table = CMS_CODES if err.kind == "CMS" else CME_CODES
    code = err.code
    if code is None and err.kind in ("CMS", "CME"):
        code = next((number for words, number in _CME_WORDS if words in err.text.lower()), None)
        table = CME_CODES
    row = table.get(code) if code is not None else None
    if row is None:
        if err.kind == "CMS" and code is not None and code < 0x80:  # noqa: PLR2004 - RP causes
            row = (_TRANSIENT, "network_busy", "refused by the network")
        else:
            return TransientError(
                f"{doing}: the modem answered {err.describe()}", key="modem_error", max_attempts=UNNAMED_TRIES
            )
    error, key, reason = row
    return error(f"{doing}: {reason} ({err.describe()})", key=key)
