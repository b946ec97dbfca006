"""The languages a recording may be said to be in: the codes Whisper knows."""

from __future__ import annotations

from faster_whisper.tokenizer import _LANGUAGE_CODES

# ISO 639-1 codes, plus the few ISO 639-3 ones Whisper added ("haw", "yue"). faster-whisper
# keeps the list private; its public one (`WhisperModel.supported_languages`) needs a model
# loaded, and a request is checked long before any is.
WHISPER_LANGUAGES = frozenset(_LANGUAGE_CODES)


class UnknownLanguageError(ValueError):
    """Not a language code Whisper knows; the message is one line for the user."""


def checked_language(code: str) -> str:
    """`code` as Whisper spells it ("DE " -> "de"); UnknownLanguageError for a code it does
    not know. The message does not quote the value: error replies never echo input."""
    language = code.strip().casefold()
    if language not in WHISPER_LANGUAGES:
        raise UnknownLanguageError(
            "not a language code Whisper knows; use an ISO 639-1 code such as en, de, es, fr"
        )
    return language
