import pytest
import tensorflow_datasets as tfds

from nlp_lstm.data import load_tfds
from nlp_lstm.errors import NlpLstmError


def test_offline_without_prepared_data_points_at_bundled_corpora(tmp_path):
    with pytest.raises(NlpLstmError, match="offline, use a bundled corpus") as error:
        load_tfds("tfds:imdb_reviews", "sentiment", "test", data_dir=str(tmp_path), download=False)
    assert "imdb_reviews" in str(error.value)


def test_unknown_dataset_name(tmp_path):
    with pytest.raises(NlpLstmError, match="'no_such_dataset'"):
        load_tfds("tfds:no_such_dataset", "sentiment", "train", data_dir=str(tmp_path))


def test_loaders_turn_tfds_records_into_examples():
    """tfds's own mock data stands in for the downloaded dataset."""
    with tfds.testing.mock_data(num_examples=6):
        reviews = load_tfds("tfds:imdb_reviews", "sentiment", "train")
        assert len(reviews.texts) == 6 and set(reviews.labels) <= {"neg", "pos"}
        text = load_tfds("tfds:tiny_shakespeare", "generation", "train")
        assert isinstance(text, str) and text
        with pytest.raises(NlpLstmError, match="no text and label features"):
            load_tfds("tfds:tiny_shakespeare", "sentiment", "train")
