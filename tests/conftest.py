import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from pathlib import Path  # noqa: E402

import helpers  # noqa: E402
import pytest  # noqa: E402

from nlp_lstm import corpora  # noqa: E402
from nlp_lstm.tokenization import train_sentencepiece  # noqa: E402


@pytest.fixture(scope="session")
def sentiment_proto() -> bytes:
    """A small SentencePiece model trained on a slice of the Rotten Tomatoes training split."""
    texts, _ = corpora.load("rotten_tomatoes", "train")
    return train_sentencepiece(texts[:3000], vocabulary_size=1000)


@pytest.fixture(scope="session")
def bilingual_proto() -> bytes:
    """A SentencePiece model that covers every character of a slice of the Ding pairs."""
    english, german = corpora.load("ding_en_de", "train")
    return train_sentencepiece(
        english[:3000] + german[:3000], vocabulary_size=1500, character_coverage=1.0
    )


@pytest.fixture(scope="session")
def tiny_exports(tmp_path_factory) -> Path:
    """Tiny real exports of the three recipes, ``<recipe>/1`` (``helpers.tiny_exports``)."""
    return helpers.tiny_exports(tmp_path_factory.getbasetemp() / "tiny-exports")
