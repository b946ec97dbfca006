"""When a due phrase falls: "Friday", "end of the month", "in two weeks" as a date.

dateparser reads most phrases, in many languages. A few rules come first, for what it
does not read ("end of the month", "EOW", "by the 15th") or reads otherwise than a
deadline means: a weekday is the next such day after the meeting, so "Wednesday" said on
a Wednesday is next week's; "next Friday" is the Friday of next week; "next week" and
"next month" are due by their end.
"""

from __future__ import annotations

import calendar
import re
from datetime import date, datetime, time, timedelta
from functools import lru_cache

import dateparser
from dateparser.data.languages_info import language_order

_WEEKDAYS = {
    name: number
    for number, names in enumerate(
        (
            ("monday", "mon"),
            ("tuesday", "tue", "tues"),
            ("wednesday", "wed"),
            ("thursday", "thu", "thur", "thurs"),
            ("friday", "fri"),
            ("saturday", "sat"),
            ("sunday", "sun"),
        )
    )
    for name in names
}
# The working week's last day: "end of the week" is a Friday.
_FRIDAY = 4

# Words that lead a deadline without changing it: "by Friday", "no later than the 15th".
_LEAD = re.compile(
    r"^(?:(?:by|before|until|till|til|on|due|for|latest|at|no later than|not later than)"
    r"\s+)+"
)
# A time of day after the date ("Friday 3pm", "tomorrow morning", "Monday EOD"): the day
# is what counts.
_TIME_OF_DAY = re.compile(
    r"(?:,?\s+(?:at\s+)?(?:\d{1,2}(?::\d{2})?\s*(?:am|pm|a\.m\.|p\.m\.)|\d{1,2}:\d{2}"
    r"|(?:in the\s+)?(?:morning|afternoon|evening|night|noon|midday|lunch(?:time)?)"
    r"|eod|cob|(?:the\s+)?end of (?:the\s+)?(?:business\s+)?day|close of business))+$"
)
_TODAY = re.compile(
    r"(?:today|tonight|eod|cob|(?:the\s+)?end of (?:the\s+)?(?:business\s+)?day"
    r"|close of business|this (?:morning|afternoon|evening))"
)
_THIS = r"(?:the\s+|this\s+)?"
_END_OF_WEEK = re.compile(rf"eow|(?:the\s+)?end of {_THIS}(?:the\s+)?(?:work\s*)?week")
_END_OF_NEXT_WEEK = re.compile(r"(?:the\s+)?end of next week|next week")
_END_OF_MONTH = re.compile(rf"eom|(?:the\s+)?end of {_THIS}month")
_END_OF_NEXT_MONTH = re.compile(r"(?:the\s+)?end of next month|next month")
_END_OF_QUARTER = re.compile(rf"eoq|(?:the\s+)?end of {_THIS}quarter")
_END_OF_YEAR = re.compile(rf"eoy|(?:the\s+)?end of {_THIS}year")
_WEEKDAY = re.compile(
    r"(?:(?P<which>this|coming|this coming|next)\s+)?(?P<day>[a-z]+)(?P<week>\s+next week)?"
)
_DAY_OF_MONTH = re.compile(
    r"(?:the\s+)?(?P<day>\d{1,2})(?:st|nd|rd|th)(?:\s+of\s+(?:the|this)\s+month)?"
)
# A bare number ("by 5") is a day, a month or an hour: nobody can tell which.
_BARE_NUMBER = re.compile(r"\d+")


def resolve_due_date(
    phrase: str, *, base: datetime | date, language: str | None = None
) -> date | None:
    """The date `phrase` means, said at `base` (the meeting's start); None when it names
    no date ("soon", "next meeting") or cannot be read."""
    today = base.date() if isinstance(base, datetime) else base
    text = _LEAD.sub("", " ".join(phrase.casefold().replace("\u2019", "'").split()))
    text = text.strip(" .,;:!?")
    if not text:
        return None
    text = _TIME_OF_DAY.sub("", text).strip(" ,")
    ruled = _by_rule(text, today)
    if ruled is not None or _BARE_NUMBER.fullmatch(text):
        return ruled
    return _parsed(text, today, language)


def _by_rule(text: str, today: date) -> date | None:
    if _TODAY.fullmatch(text):
        return today
    if _END_OF_WEEK.fullmatch(text):
        return _friday_after(today - timedelta(days=1))
    if _END_OF_NEXT_WEEK.fullmatch(text):
        return _friday_after(_monday(today) + timedelta(days=6))
    if _END_OF_MONTH.fullmatch(text):
        return _month_end(today.year, today.month)
    if _END_OF_NEXT_MONTH.fullmatch(text):
        year, month = (today.year + 1, 1) if today.month == 12 else (today.year, today.month + 1)
        return _month_end(year, month)
    if _END_OF_QUARTER.fullmatch(text):
        return _month_end(today.year, (today.month - 1) // 3 * 3 + 3)
    if _END_OF_YEAR.fullmatch(text):
        return date(today.year, 12, 31)
    if (weekday := _WEEKDAY.fullmatch(text)) and weekday["day"] in _WEEKDAYS:
        return _weekday(today, _WEEKDAYS[weekday["day"]], next_week=_means_next_week(weekday))
    if day_of_month := _DAY_OF_MONTH.fullmatch(text):
        return _day_of_month(today, int(day_of_month["day"]))
    return None


def _means_next_week(weekday: re.Match[str]) -> bool:
    return weekday["which"] == "next" or weekday["week"] is not None


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def _friday_after(day: date) -> date:
    """The first Friday after `day`."""
    return day + timedelta(days=(_FRIDAY - day.weekday() - 1) % 7 + 1)


def _weekday(today: date, number: int, *, next_week: bool) -> date:
    # The next such day after the meeting: said on that very day, it is next week's.
    soonest = today + timedelta(days=(number - today.weekday() - 1) % 7 + 1)
    if next_week and soonest < _monday(today) + timedelta(days=7):
        return soonest + timedelta(days=7)
    return soonest


def _month_end(year: int, month: int) -> date:
    return date(year, month, calendar.monthrange(year, month)[1])


def _day_of_month(today: date, day: int) -> date | None:
    """The next `day`th after `today` (in a month that has one)."""
    if not 1 <= day <= 31:
        return None
    year, month = today.year, today.month
    if day <= today.day:
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    while day > calendar.monthrange(year, month)[1]:
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return date(year, month, day)


def _parsed(text: str, today: date, language: str | None) -> date | None:
    found = dateparser.parse(
        text,
        languages=_languages(language),
        settings={
            "RELATIVE_BASE": datetime.combine(today, time(12)),
            "PREFER_DATES_FROM": "future",
            "RETURN_AS_TIMEZONE_AWARE": False,
        },
    )
    return found.date() if found is not None else None


@lru_cache(maxsize=64)
def _languages(language: str | None) -> list[str]:
    """The languages to read a phrase in: the meeting's, when dateparser knows it, and
    English, in which notes are often written whatever the meeting's language."""
    primary = (language or "").split("-")[0].split("_")[0].casefold()
    return [primary, "en"] if primary in language_order and primary != "en" else ["en"]
