"""Due phrases as dates, counted from the meeting's start."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from integrations.synthesis.due_dates import resolve_due_date

# A Wednesday.
MEETING = datetime(2026, 3, 4, 10, 30, tzinfo=UTC)


class TestResolveDueDate:
    @pytest.mark.parametrize(
        ("phrase", "due"),
        [
            ("Friday", date(2026, 3, 6)),
            ("by Friday", date(2026, 3, 6)),
            ("this Friday", date(2026, 3, 6)),
            ("Fri", date(2026, 3, 6)),
            # The meeting's own weekday is next week's.
            ("Wednesday", date(2026, 3, 11)),
            ("next Wednesday", date(2026, 3, 11)),
            # "next" is the day in next week, not the first one to come.
            ("next Friday", date(2026, 3, 13)),
            ("next Monday", date(2026, 3, 9)),
            ("Monday next week", date(2026, 3, 9)),
            ("Tuesday", date(2026, 3, 10)),
            ("tomorrow", date(2026, 3, 5)),
            ("by tomorrow morning", date(2026, 3, 5)),
            ("end of day", date(2026, 3, 4)),
            ("EOD", date(2026, 3, 4)),
            ("today", date(2026, 3, 4)),
            ("Friday 3pm", date(2026, 3, 6)),
            ("Monday EOD", date(2026, 3, 9)),
            ("EOW", date(2026, 3, 6)),
            ("end of the week", date(2026, 3, 6)),
            ("next week", date(2026, 3, 13)),
            ("end of next week", date(2026, 3, 13)),
            ("end of the month", date(2026, 3, 31)),
            ("by the end of this month", date(2026, 3, 31)),
            ("end of next month", date(2026, 4, 30)),
            ("end of the quarter", date(2026, 3, 31)),
            ("in two weeks", date(2026, 3, 18)),
            ("in 3 days", date(2026, 3, 7)),
            ("by the 15th", date(2026, 3, 15)),
            # A day of the month gone by (or today) is next month's.
            ("the 4th", date(2026, 4, 4)),
            ("by the 2nd", date(2026, 4, 2)),
            ("March 3rd", date(2027, 3, 3)),
            ("March 20", date(2026, 3, 20)),
            ("2026-03-20", date(2026, 3, 20)),
        ],
    )
    def test_phrases_against_a_wednesday_meeting(self, phrase: str, due: date) -> None:
        assert resolve_due_date(phrase, base=MEETING) == due

    @pytest.mark.parametrize("phrase", ["soon", "ASAP", "next meeting", "by 5", "", "the deck"])
    def test_phrases_that_name_no_date_give_none(self, phrase: str) -> None:
        assert resolve_due_date(phrase, base=MEETING) is None

    def test_end_of_the_week_said_on_a_friday_is_that_day(self) -> None:
        assert resolve_due_date("EOW", base=date(2026, 3, 6)) == date(2026, 3, 6)
        assert resolve_due_date("end of the week", base=date(2026, 3, 7)) == date(2026, 3, 13)

    def test_months_and_years_roll_over(self) -> None:
        december = date(2026, 12, 20)
        assert resolve_due_date("end of next month", base=december) == date(2027, 1, 31)
        assert resolve_due_date("by the 10th", base=december) == date(2027, 1, 10)
        # April has no 31st: the next month that has one.
        assert resolve_due_date("the 31st", base=date(2026, 3, 31)) == date(2026, 5, 31)

    def test_the_meetings_language_is_read_and_english_too(self) -> None:
        assert resolve_due_date("Freitag", base=MEETING, language="de") == date(2026, 3, 6)
        assert resolve_due_date("vendredi", base=MEETING, language="fr-FR") == date(2026, 3, 6)
        assert resolve_due_date("Friday", base=MEETING, language="de") == date(2026, 3, 6)
        # A language dateparser does not know reads as English.
        assert resolve_due_date("Friday", base=MEETING, language="xx") == date(2026, 3, 6)
