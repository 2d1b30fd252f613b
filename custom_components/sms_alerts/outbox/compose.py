"""An alert's text before it is queued: options checked, targets read, text shaped, a reference added (pure)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from ..api.base import Provider
from ..const import LOGGER
from ..message import (
    GSM_SINGLE,
    MAX_MESSAGE_LENGTH,
    UCS2_SINGLE,
    Encoding,
    MessageError,
    PreparedMessage,
    SmsInfo,
    encoding_of,
    prepare,
    sms_info,
    to_gsm7,
    truncate,
    truncate_gsm,
)
from .models import SendOptions
from .settings import OutboxSettings


class Composer:
    """Turns what an action was given into the text and targets one entry's provider sends."""

    def __init__(self, provider: Provider, settings: OutboxSettings, title: str) -> None:
        """Compose for one entry."""
        self._provider = provider
        self._settings = settings
        self._title = title

    def prepare(
        self, message: str, title: str | None, targets: Iterable[str] | None, options: SendOptions, region: str | None
    ) -> PreparedMessage:
        """Check text, targets and options before anything is sent; raise MessageError (bad input)."""
        unsupported = options.asked() - self._provider.options
        if unsupported:
            raise MessageError(
                "option_not_supported", option=", ".join(sorted(unsupported)), provider=self._provider.key
            )
        for name in sorted(options.asked()):
            try:
                self._provider.normalize_option(name, getattr(options, name))
            except ValueError as err:
                raise MessageError("invalid_option", option=name, value=str(getattr(options, name))) from err
        raw_targets = list(targets) if targets else list(self._settings.recipients)
        if not raw_targets:
            raise MessageError("no_recipients")
        prepared = prepare(message, title, raw_targets, region=region, supported=self._provider.target_kinds)
        if prepared.cut_from is not None:
            LOGGER.warning(
                "%s: an alert of %s characters was cut to %s to be sent",
                self._title,
                prepared.cut_from,
                MAX_MESSAGE_LENGTH,
            )
        return self.shape(prepared)

    def shape(self, prepared: PreparedMessage) -> PreparedMessage:
        """Apply the entry's text options: GSM-7 only (transliterated), and one SMS at most (cut with an ellipsis).

        Encoding and parts are those of what the provider sends, which may differ from the text (Wildix look-alikes).
        """
        text = prepared.text
        if self._settings.gsm_only:
            text = to_gsm7(text)
        if self._settings.single_sms:
            text = self.cut_to_one(text)
        sent = self._provider.texts_sent(text)
        if text == prepared.text and sent == [text]:
            return prepared
        return replace(prepared, text=text, info=self.info(text, sent))

    def with_reference(self, prepared: PreparedMessage, reference: int) -> PreparedMessage:
        """Add a short reference (#42) that a reply can quote to acknowledge the alert; one SMS stays one."""
        tag = f" #{reference}"
        # Still one SMS where the entry cuts to one: the cut leaves room for the reference
        text = (self.cut_to_one(prepared.text, len(tag)) if self._settings.single_sms else prepared.text) + tag
        return replace(prepared, text=text, info=self.info(text))

    def cut_to_one(self, text: str, room: int = 0) -> str:
        """Cut a text to one SMS with an ellipsis, leaving `room` GSM-7 characters for what follows it."""
        gsm = all(encoding_of(sent) is Encoding.GSM7 for sent in self._provider.texts_sent(text))
        return truncate_gsm(text, GSM_SINGLE - room) if gsm else truncate(text, UCS2_SINGLE - room)

    def info(self, text: str, sent: list[str] | None = None) -> SmsInfo:
        """Return encoding, units and SMS parts of what the provider sends for `text`."""
        sent = self._provider.texts_sent(text) if sent is None else sent
        if sent == [text]:
            return sms_info(text)
        infos = [sms_info(part) for part in sent]
        ucs2 = any(info.encoding is Encoding.UCS2 for info in infos)
        return SmsInfo(
            encoding=Encoding.UCS2 if ucs2 else Encoding.GSM7,
            units=sum(info.units for info in infos),
            parts=sum(info.parts for info in infos),
        )
