"""How names and topics are normalized into the graph's keys."""

from __future__ import annotations

import pytest

from integrations.graph.model import Person, normalize_name


class TestNormalizeName:
    @pytest.mark.parametrize(
        ("spelling", "plain"),
        [
            ("Łukasz", "Lukasz"),
            ("Bjørn Ødegård", "Bjorn Odegard"),
            ("Straße", "Strasse"),
            ("Đorđe", "Dorde"),
            ("  José  GARCÍA ", "jose garcia"),
            ("Иван Петров", "Ivan Petrov"),
            ("\uff31\uff13 Roadmap", "q3 roadmap"),  # full-width Q and 3
        ],
    )
    def test_spellings_with_and_without_letters_outside_ascii_share_a_key(
        self, spelling: str, plain: str
    ) -> None:
        assert normalize_name(spelling) == normalize_name(plain)
        assert normalize_name(spelling).isascii()

    def test_people_known_by_name_only_get_one_key(self) -> None:
        assert Person("Łukasz Nowak").key == Person("lukasz nowak").key == "name:lukasz nowak"

    def test_chinese_names_that_romanize_alike_stay_apart(self) -> None:
        # Both read "Wang Wei" without tones; they are two people.
        assert normalize_name("王伟") != normalize_name("汪伟")
        assert normalize_name(" 王伟 ") == "王伟"
