"""Readers for user corpora and named datasets, and the tf.data pipelines they feed."""

from nlp_lstm.data.pipelines import (
    batch_by_length,
    language_model_windows,
    shuffled,
    with_known_length,
)
from nlp_lstm.data.readers import (
    LabelledExamples,
    ParallelExamples,
    read_labelled,
    read_lines,
    read_pairs,
    read_text,
)
from nlp_lstm.data.tfds_loader import load_tfds

__all__ = [
    "LabelledExamples",
    "ParallelExamples",
    "batch_by_length",
    "language_model_windows",
    "load_tfds",
    "read_labelled",
    "read_lines",
    "read_pairs",
    "read_text",
    "shuffled",
    "with_known_length",
]
