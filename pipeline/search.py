"""Search as the CLI and the HTTP service take it: a query, a speaker, a date in words."""

from __future__ import annotations

from datetime import datetime

import dateparser

from repositories.database import UnitOfWork
from repositories.search import SearchHit

MAX_RESULTS = 100

_DATEPARSER_SETTINGS: dict[str, object] = {
    # Times are kept in UTC; "last week" means a week before now, not next week's.
    "TIMEZONE": "UTC",
    "TO_TIMEZONE": "UTC",
    "RETURN_AS_TIMEZONE_AWARE": True,
    "PREFER_DATES_FROM": "past",
}


class SearchInputError(ValueError):
    """A query or a filter that cannot be searched with; its message names the input."""


# Dates in words are read in English only: with every language dateparser knows, a string
# that is no date costs seconds of CPU (each language's data loaded and tried), which an
# HTTP client could ask for again and again. Numeric dates read the same in any language.
_DATE_LANGUAGES = ["en"]
_DATE_MAX_CHARS = 64


def parse_since(value: str) -> datetime:
    """A date as people write it: "2026-11-01", "last week", "3 days ago"."""
    parsed = None
    if len(value) <= _DATE_MAX_CHARS:
        parsed = dateparser.parse(value, languages=_DATE_LANGUAGES, settings=_DATEPARSER_SETTINGS)
    if parsed is None:
        raise SearchInputError(
            f"since {value!r} is not a date (try 2026-11-01, yesterday or 'last week')"
        )
    return parsed


def search(
    uow: UnitOfWork,
    query: str,
    *,
    speaker: str | None = None,
    since: str | None = None,
    limit: int = 20,
) -> list[SearchHit]:
    """The best matches of `query` over transcripts and notes, best first."""
    if not query.strip():
        raise SearchInputError("the query is empty: give the words to look for")
    if not 1 <= limit <= MAX_RESULTS:
        raise SearchInputError(f"limit must be between 1 and {MAX_RESULTS}")
    held_since = parse_since(since) if since is not None else None
    with uow:
        return uow.search.search(
            query,
            speaker=speaker.strip() or None if speaker is not None else None,
            since=held_since,
            limit=limit,
        )
