import pytest

from nlp_lstm.data import ParallelExamples
from nlp_lstm.data.sources import parallel_splits
from nlp_lstm.data.splits import pair_components, split_groups
from nlp_lstm.errors import NlpLstmError


def test_pairs_sharing_either_side_form_one_component():
    pairs = [
        ("Go.", "Ve."),
        ("Hi.", "Hola."),
        ("Go.", "Vete."),
        ("Leave.", "Vete."),
        ("Hello.", "Hola."),
        ("Run.", "Corre."),
    ]
    assert pair_components(pairs) == [[0, 2, 3], [1, 4], [5]]


def test_split_groups_keeps_groups_whole_and_is_seeded():
    groups = [[i] for i in range(80)] + [[80, 81, 82], [83, 84]]
    splits = split_groups(groups, seed=3, validation=0.1, test=0.1)
    assert sorted(sum(splits.values(), [])) == list(range(85))
    for group in groups:
        assert sum(set(group) <= set(part) for part in splits.values()) == 1
    assert all(8 <= len(splits[s]) <= 11 for s in ("validation", "test"))
    assert split_groups(groups, seed=3, validation=0.1, test=0.1) == splits
    assert split_groups(groups, seed=4, validation=0.1, test=0.1) != splits


def test_a_user_tsv_is_split_without_leaking_a_sentence(tmp_path):
    rows = [f"Sentence {i}.\tFrase {i}." for i in range(60)]
    rows += [f"Sentence {i}.\tOtra frase {i}." for i in range(60)]  # a second translation
    rows += [f"Phrase {i}.\tFrase {i}." for i in range(60)]  # a second source
    (tmp_path / "pairs.tsv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    splits, _ = parallel_splits(str(tmp_path / "pairs.tsv"), None, "tatoeba_en_es", 1, "en", "es")
    train = splits["train"]
    for split in ("validation", "test"):
        assert splits[split].sources
        assert not set(splits[split].sources) & set(train.sources)
        assert not set(splits[split].targets) & set(train.targets)


def test_fixed_user_splits_are_taken_as_given(tmp_path):
    for name, count in (("train", 20), ("validation", 3), ("test", 4)):
        (tmp_path / f"{name}.tsv").write_text(
            "".join(f"{name} {i}.\t{name} {i} es.\n" for i in range(count)), encoding="utf-8"
        )
    splits, description = parallel_splits(
        str(tmp_path / "train.tsv"),
        None,
        "tatoeba_en_es",
        1,
        "en",
        "es",
        validation_data=str(tmp_path / "validation.tsv"),
        test_data=str(tmp_path / "test.tsv"),
    )
    assert [len(splits[s].sources) for s in ("train", "validation", "test")] == [20, 3, 4]
    assert splits["test"] == ParallelExamples(
        [f"test {i}." for i in range(4)], [f"test {i} es." for i in range(4)]
    )
    assert "validation.tsv" in description
    with pytest.raises(NlpLstmError, match="go together"):
        parallel_splits(
            str(tmp_path / "train.tsv"),
            None,
            "tatoeba_en_es",
            1,
            "en",
            "es",
            validation_data=str(tmp_path / "validation.tsv"),
        )


@pytest.mark.parametrize("source, target", [("en", "es"), ("es", "en")])
def test_the_bundled_tatoeba_corpus_reads_in_both_directions(source, target):
    splits, description = parallel_splits(None, "tatoeba_en_es", "tatoeba_en_es", 1, source, target)
    english = splits["test"].sources if source == "en" else splits["test"].targets
    assert "He ran." in english and f"{source} -> {target}" in description
    with pytest.raises(NlpLstmError, match="has languages en and es"):
        parallel_splits(None, "tatoeba_en_es", "tatoeba_en_es", 1, "en", "de")
