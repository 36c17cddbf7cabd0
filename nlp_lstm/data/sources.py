"""Where a recipe's examples come from: a bundled corpus, a user file, or TFDS.

``--dataset NAME`` names a bundled corpus (``rotten_tomatoes``) or a TFDS dataset
(``tfds:imdb_reviews``); ``--data PATH`` a user file, split into
train/validation/test with a fixed seed (10% validation, 10% test; sentence pairs by
connected component, so no held-out sentence occurs in training).
"""

from __future__ import annotations

import random

from nlp_lstm import corpora
from nlp_lstm.data.readers import (
    LabelledExamples,
    ParallelExamples,
    read_labelled,
    read_lines,
    read_pairs,
)
from nlp_lstm.data.splits import pair_components, split_groups
from nlp_lstm.data.tfds_loader import PREFIX, load_tfds
from nlp_lstm.errors import NlpLstmError

HELD_OUT_SHARE = 0.1


def _seeded_split(count: int, seed: int) -> dict[str, list[int]]:
    """Shuffled example indices per split (10% validation, 10% test, the rest train)."""
    order = list(range(count))
    random.Random(seed).shuffle(order)
    held_out = max(1, round(count * HELD_OUT_SHARE))
    if count < 3 * held_out or count < 10:
        raise NlpLstmError(
            f"only {count} usable examples; at least 10 are needed to split train/validation/test"
        )
    return {
        "validation": order[:held_out],
        "test": order[held_out : 2 * held_out],
        "train": order[2 * held_out :],
    }


def _split_labelled(examples: LabelledExamples, seed: int) -> dict[str, LabelledExamples]:
    return {
        split: LabelledExamples([examples.texts[i] for i in idx], [examples.labels[i] for i in idx])
        for split, idx in _seeded_split(len(examples.texts), seed).items()
    }


def labelled_splits(
    data: str | None, dataset: str | None, default: str, seed: int, skip_bad_rows: bool = False
) -> tuple[dict[str, LabelledExamples], str]:
    """Train/validation/test examples for a classification recipe.

    Returns:
        ``(splits, description)`` where ``description`` names the source for metadata.
    """
    if data:
        examples = read_labelled(data, skip_bad_rows=skip_bad_rows)
        return _split_labelled(examples, seed), f"file {data} (seeded 80/10/10 split)"
    name = dataset or default
    if name.startswith(PREFIX):
        train = load_tfds(name, "sentiment", "train")
        test = load_tfds(name, "sentiment", "test")
        carved = _split_labelled(train, seed)
        carved["train"].texts += carved["test"].texts
        carved["train"].labels += carved["test"].labels
        return {"train": carved["train"], "validation": carved["validation"], "test": test}, name
    corpus = corpora.get(name)
    if corpus.task != "sentiment":
        raise NlpLstmError(f"bundled corpus {name!r} is for {corpus.task}, not sentiment")
    return (
        {split: LabelledExamples(*corpora.load(name, split)) for split in corpora.SPLITS},
        f"bundled corpus {name} ({corpus.source})",
    )


def text_splits(data: str | None, dataset: str | None, default: str) -> tuple[dict[str, str], str]:
    """Train/validation/test text for a language model.

    A user file is cut by position (first 80% train, next 10% validation, last
    10% test, at line boundaries), so evaluated text is never seen in training.
    """
    if data:
        lines = [line + "\n" for line in read_lines(data)]
        if len(lines) < 10:
            raise NlpLstmError(
                f"only {len(lines)} lines; at least 10 are needed to split train/validation/test",
                path=data,
            )
        cut1, cut2 = round(len(lines) * 0.8), round(len(lines) * 0.9)
        return (
            {
                "train": "".join(lines[:cut1]),
                "validation": "".join(lines[cut1:cut2]),
                "test": "".join(lines[cut2:]),
            },
            f"file {data} (80/10/10 by position)",
        )
    name = dataset or default
    if name.startswith(PREFIX):
        return ({split: load_tfds(name, "generation", split) for split in corpora.SPLITS}, name)
    corpus = corpora.get(name)
    if corpus.task != "generation":
        raise NlpLstmError(f"bundled corpus {name!r} is for {corpus.task}, not generation")
    return (
        {split: corpora.load(name, split) for split in corpora.SPLITS},
        f"bundled corpus {name} ({corpus.source})",
    )


def parallel_splits(
    data: str | None,
    dataset: str | None,
    default: str,
    seed: int,
    source_language: str,
    target_language: str,
    skip_bad_rows: bool = False,
    target_data: str | None = None,
    validation_data: str | None = None,
    test_data: str | None = None,
) -> tuple[dict[str, ParallelExamples], str]:
    """Train/validation/test sentence pairs, oriented source -> target.

    A user TSV gives pairs in its column order (first column = source), or ``data``
    and ``target_data`` are two line-aligned files. With ``validation_data`` and
    ``test_data`` (TSV files) those are the held-out splits; without them ``data`` is
    split by connected component (``splits.pair_components``), about 80/10/10, so no
    held-out sentence on either side occurs in training. The bundled corpora and TFDS
    datasets are oriented by the language codes.
    """
    if target_data and not data:
        raise NlpLstmError("--target-data needs --data (the file of source sentences)")
    if bool(validation_data) != bool(test_data):
        raise NlpLstmError(
            "--validation-data and --test-data go together: pass both, or neither to split --data"
        )
    if validation_data and not data:
        raise NlpLstmError("--validation-data and --test-data need --data (the training pairs)")
    if data:
        pairs = read_pairs(data, target_data, skip_bad_rows=skip_bad_rows)
        if validation_data:
            return (
                {
                    "train": pairs,
                    "validation": read_pairs(validation_data, skip_bad_rows=skip_bad_rows),
                    "test": read_pairs(test_data, skip_bad_rows=skip_bad_rows),
                },
                f"files {data} / {validation_data} / {test_data}",
            )
        return (
            {
                split: ParallelExamples(
                    [pairs.sources[i] for i in idx], [pairs.targets[i] for i in idx]
                )
                for split, idx in _split_pairs(pairs, seed).items()
            },
            f"file {data} (seeded 80/10/10 split by connected sentences)",
        )
    name = dataset or default
    if name.startswith(PREFIX):
        return (
            {
                split: load_tfds(name, "translation", split, source_language, target_language)
                for split in corpora.SPLITS
            },
            name,
        )
    corpus = corpora.get(name)
    if corpus.task != "translation":
        raise NlpLstmError(f"bundled corpus {name!r} is for {corpus.task}, not translation")
    if {source_language, target_language} != set(corpus.languages):
        raise NlpLstmError(
            f"bundled corpus {name!r} has languages "
            f"{' and '.join(corpus.languages)}; cannot translate "
            f"{source_language} -> {target_language}"
        )
    splits = {}
    for split in corpora.SPLITS:
        columns = dict(zip(corpus.languages, corpora.load(name, split)))
        splits[split] = ParallelExamples(columns[source_language], columns[target_language])
    return (
        splits,
        f"bundled corpus {name} ({corpus.source}), {source_language} -> {target_language}",
    )


def _split_pairs(pairs: ParallelExamples, seed: int) -> dict[str, list[int]]:
    """Pair indices per split, whole connected components at a time (10% / 10% / 80%)."""
    components = pair_components(list(zip(pairs.sources, pairs.targets)))
    if len(components) < 10:
        raise NlpLstmError(
            f"only {len(components)} groups of distinct sentence pairs; at "
            "least 10 are needed to split train/validation/test"
        )
    return split_groups(components, seed, HELD_OUT_SHARE, HELD_OUT_SHARE)
