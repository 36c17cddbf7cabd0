"""TensorFlow Datasets loaders, for users whose machine can reach the datasets.

``load_tfds("tfds:imdb_reviews", "sentiment", "train")`` downloads and prepares the
dataset the first time (that needs the network); offline it fails with a message
that points at the bundled corpora and local files.
"""

from __future__ import annotations

from nlp_lstm.data.readers import LabelledExamples, ParallelExamples
from nlp_lstm.errors import NlpLstmError

PREFIX = "tfds:"
TFDS_SPLITS = {"train": "train", "validation": "validation", "test": "test"}


def _decode(value) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def load_tfds(
    name: str,
    task: str,
    split: str,
    source_language: str = "en",
    target_language: str = "de",
    data_dir: str | None = None,
    download: bool = True,
):
    """Loads one split of a TensorFlow Datasets dataset as examples for ``task``.

    Args:
        name: ``tfds:NAME`` or ``NAME`` (with optional ``/config``), e.g.
            ``tfds:imdb_reviews``, ``tfds:tiny_shakespeare``, ``tfds:wmt14_translate/de-en``.
        task: ``sentiment`` (supervised text/label), ``generation`` (a ``text``
            feature) or ``translation`` (features named by language).
        split: ``train``, ``validation`` or ``test`` (any TFDS split string works).
        source_language: the source side's feature name (translation).
        target_language: the target side's feature name (translation).
        data_dir: where TFDS keeps prepared data.
        download: fetch and prepare the dataset if ``data_dir`` lacks it; with
            ``False`` only already-prepared data is used (fails fast offline).

    Returns:
        ``LabelledExamples``, the text as one string, or ``ParallelExamples``.

    Raises:
        NlpLstmError: if the dataset cannot be loaded (offline, unknown name, split)
            or its features do not fit the task.
    """
    import tensorflow_datasets as tfds

    name = name[len(PREFIX) :] if name.startswith(PREFIX) else name
    try:
        dataset, info = tfds.load(
            name,
            split=TFDS_SPLITS.get(split, split),
            with_info=True,
            data_dir=data_dir,
            download=download,
        )
    except Exception as error:  # tfds raises many types; all mean "could not load"
        first_line = str(error).splitlines()[0].rstrip(".") if str(error) else ""
        raise NlpLstmError(
            f"could not load TensorFlow Datasets {name!r} split {split!r}: "
            f"{type(error).__name__}: {first_line}. "
            "TFDS downloads need the network; offline, use a bundled corpus "
            "(`nlp-lstm corpora`) or a local file with --data"
        ) from None
    records = tfds.as_numpy(dataset)
    features = info.features
    if task == "sentiment":
        text_key = next((k for k in ("text", "sentence", "review") if k in features), None)
        if text_key is None or "label" not in features:
            raise NlpLstmError(f"TFDS {name!r} has no text and label features for sentiment")
        label_names = getattr(features["label"], "names", None)
        texts, labels = [], []
        for record in records:
            texts.append(_decode(record[text_key]))
            label = int(record["label"])
            labels.append(label_names[label] if label_names else str(label))
        return LabelledExamples(texts, labels)
    if task == "generation":
        if "text" not in features:
            raise NlpLstmError(f"TFDS {name!r} has no 'text' feature for generation")
        return "\n".join(_decode(r["text"]) for r in records) + "\n"
    if task == "translation":
        if source_language not in features or target_language not in features:
            raise NlpLstmError(
                f"TFDS {name!r} has no {source_language!r}/{target_language!r} "
                f"features; it has {', '.join(features.keys())}"
            )
        sources, targets = [], []
        for record in records:
            sources.append(_decode(record[source_language]))
            targets.append(_decode(record[target_language]))
        return ParallelExamples(sources, targets)
    raise NlpLstmError(f"unknown task {task!r}")
