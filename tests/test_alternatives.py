"""Ding's '/' alternatives: a clean first reading for references, more for training."""

import pytest

from nlp_lstm.data.alternatives import first_reading, readings


@pytest.mark.parametrize(
    "text, expected",
    [
        (
            "His clothes were old and torn/ripped.",
            ["His clothes were old and torn.", "His clothes were old and ripped."],
        ),
        (
            "She was stricken with pain / grief.",
            ["She was stricken with pain.", "She was stricken with grief."],
        ),
        (
            "It backfired on me/him/her.",
            ["It backfired on me.", "It backfired on him.", "It backfired on her."],
        ),
        (
            "Sie war von Schmerzen / Kummer geplagt.",
            ["Sie war von Schmerzen geplagt.", "Sie war von Kummer geplagt."],
        ),
        (
            "„Hättest du mir das früher gesagt!“, rief er verärgert/ärgerlich.",
            [
                "„Hättest du mir das früher gesagt!“, rief er verärgert.",
                "„Hättest du mir das früher gesagt!“, rief er ärgerlich.",
            ],
        ),
    ],
)
def test_word_alternatives(text, expected):
    assert readings(text) == expected


@pytest.mark.parametrize(
    "text, expected",
    [
        # a phrase that repeats the word before the slash
        (
            "A detailed report will be forwarded later / at a later time.",
            "A detailed report will be forwarded later.",
        ),
        # whole clauses
        (
            "„Schaffst du das?“ „Ich glaube ja. / Ich glaube schon.“",
            "„Schaffst du das?“ „Ich glaube ja.",
        ),
        (
            "Don’t rub the stain. Gently blot it dry with a soft cloth. "
            "/ Soak it up with a soft cloth.",
            "Don’t rub the stain. Gently blot it dry with a soft cloth.",
        ),
    ],
)
def test_phrase_and_clause_alternatives_keep_the_first(text, expected):
    assert first_reading(text) == expected
    assert readings(text) == [expected]


def test_text_without_alternatives_is_untouched():
    for text in ("Where is the station?", "Du kannst mich mal! /LMAA/", "and / ", ""):
        assert readings(text) == ([text.strip()] if text.strip() else [text])


def test_limit():
    assert len(readings("It backfired on me/him/her.", limit=2)) == 2
