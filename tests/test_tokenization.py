import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf

from nlp_lstm import cli, corpora
from nlp_lstm.errors import NlpLstmError
from nlp_lstm.tokenization import (
    BOS_ID,
    EOS_ID,
    PAD_ID,
    UNK_ID,
    CharacterTokenizer,
    SentencePieceTokenizer,
    build_character_vocabulary,
    train_sentencepiece,
)

GERMAN = ["Wo ist der Bahnhof?", "Die Straße ist größer als gedacht.", "Schöne Grüße!"]


def test_sentencepiece_round_trips_non_ascii(bilingual_proto):
    tokenizer = SentencePieceTokenizer(bilingual_proto)
    ids = tokenizer(tf.constant(GERMAN))
    assert ids.dtype == tf.int32
    assert not np.any(ids.numpy() == UNK_ID)
    assert [t.decode() for t in tokenizer.detokenize(ids).numpy()] == GERMAN


def test_sentencepiece_fixed_special_ids(bilingual_proto):
    assert SentencePieceTokenizer(bilingual_proto).pieces()[:4] == ["<pad>", "<unk>", "<s>", "</s>"]


def test_truncation_keeps_bos_and_eos_and_pads_right(bilingual_proto):
    tokenizer = SentencePieceTokenizer(
        bilingual_proto, sequence_length=6, add_bos=True, add_eos=True
    )
    ids = tokenizer(tf.constant(["Die Straße ist größer als gedacht und noch viel länger.", ""]))
    assert ids.shape == (2, 6)
    long_row, empty_row = ids.numpy()
    assert long_row[0] == BOS_ID and long_row[-1] == EOS_ID and PAD_ID not in long_row
    assert empty_row.tolist() == [BOS_ID, EOS_ID, 0, 0, 0, 0]
    assert tokenizer.detokenize(ids).numpy()[1] == b""


def test_unpadded_batches_pad_to_longest(sentiment_proto):
    ids = SentencePieceTokenizer(sentiment_proto)(tf.constant(["a", "a fine film indeed"]))
    assert ids.shape[1] == int(tf.reduce_sum(tf.cast(ids[1] > 0, tf.int32)))


def test_a_vocabulary_too_large_for_the_corpus_is_capped_with_a_note(capsys):
    proto = train_sentencepiece(["tiny corpus"] * 20, vocabulary_size=5000)
    size = SentencePieceTokenizer(proto).vocabulary_size()
    assert 4 < size < 5000
    assert capsys.readouterr().err == (
        f"note: vocabulary size 5000 is more than this corpus of "
        f"20 sentences allows; using {size}\n"
    )


def test_empty_corpus_and_corrupt_model(tmp_path):
    with pytest.raises(NlpLstmError, match="empty corpus"):
        train_sentencepiece(["", "  "])
    bad = tmp_path / "broken.model"
    bad.write_bytes(b"not a model")
    with pytest.raises(NlpLstmError, match="broken.model: not a SentencePiece model"):
        SentencePieceTokenizer.from_file(bad)


def test_bpe_models_train_too(sentiment_proto):
    texts, _ = corpora.load("rotten_tomatoes", "train")
    proto = train_sentencepiece(texts[:2000], vocabulary_size=800, model_type="bpe")
    assert SentencePieceTokenizer(proto).vocabulary_size() == 800


def test_a_lower_case_model_folds_case_inside_the_graph(tmp_path):
    model = tmp_path / "lower.model"
    assert (
        cli.main(
            [
                "tokenizer",
                "--corpus",
                "rotten_tomatoes",
                "--vocabulary-size",
                "800",
                "--lower-case",
                "--output",
                str(model),
            ]
        )
        == 0
    )
    tokenizer = SentencePieceTokenizer.from_file(model)
    ids = tokenizer(tf.constant(["The FILM is Great.", "the film is great."])).numpy()
    np.testing.assert_array_equal(ids[0], ids[1])
    assert tokenizer.detokenize(ids).numpy()[0] == b"the film is great."
    assert not [p for p in tokenizer.pieces()[4:] if p != p.lower()]


def test_character_tokenizer_round_trip_and_unknowns():
    text = "ROMEO: Ay, Grüße — naïve café.\n"
    tokenizer = CharacterTokenizer(build_character_vocabulary(text))
    ids = tokenizer(tf.constant([text, "Zürich", ""]))
    assert tokenizer.detokenize(ids).numpy()[0].decode() == text
    zurich = ids.numpy()[1]
    assert zurich[0] == UNK_ID and zurich[1] != UNK_ID  # "Z" unseen, "ü" known
    assert tokenizer.detokenize(ids).numpy()[1].decode() == "\ufffdür\ufffdc\ufffd"
    assert ids.numpy()[2].tolist() == [PAD_ID] * ids.shape[1]


def test_character_tokenizer_specials_and_invalid_utf8():
    tokenizer = CharacterTokenizer(list("ab"), sequence_length=5, add_bos=True)
    assert tokenizer(tf.constant(["ba"])).numpy().tolist() == [[BOS_ID, 5, 4, 0, 0]]
    assert tokenizer(tf.constant([b"a\xffb"])).numpy().tolist() == [[BOS_ID, 4, UNK_ID, 5, 0]]
    with pytest.raises(NlpLstmError, match="distinct single characters"):
        CharacterTokenizer(["ab"])


def test_character_vocabulary_is_frequency_ordered_and_capped():
    assert build_character_vocabulary("abbccc", max_size=2) == ["c", "b"]
    with pytest.raises(NlpLstmError):
        build_character_vocabulary("")


def test_tokenizers_survive_keras_save_and_load(tmp_path, sentiment_proto):
    inputs = keras.Input(shape=(), dtype="string")
    outputs = [
        SentencePieceTokenizer(sentiment_proto, sequence_length=8)(inputs),
        CharacterTokenizer(list("abc "), sequence_length=8)(inputs),
    ]
    model = keras.Model(inputs, outputs)
    model.save(tmp_path / "m.keras")
    restored = keras.saving.load_model(tmp_path / "m.keras")
    texts = tf.constant(["a cab", "über"])
    for before, after in zip(model(texts), restored(texts)):
        np.testing.assert_array_equal(before, after)


EXPORT_CHECK = textwrap.dedent("""
    import json, sys
    import tensorflow as tf
    import tensorflow_text  # registers the SentencePiece ops
    assert not any(m.startswith(("nlp_lstm", "sentencepiece")) for m in sys.modules), \\
        sorted(m for m in sys.modules if m.startswith(("nlp_lstm", "sentencepiece")))
    served = tf.saved_model.load(sys.argv[1]).signatures["serving_default"]
    out = served(tf.constant(json.loads(sys.argv[2])))
    print(json.dumps({k: v.numpy().tolist() for k, v in out.items()}))
""")


def test_export_reloads_with_only_tensorflow_and_tensorflow_text(tmp_path, sentiment_proto):
    """The pattern every recipe's export uses: string in, tokenizer inside the graph."""
    keras.utils.set_random_seed(0)
    inputs = keras.Input(shape=(), dtype="string", name="text")
    ids = SentencePieceTokenizer(sentiment_proto, sequence_length=16)(inputs)
    from nlp_lstm.embedding import TokenEmbedding

    hidden = keras.layers.LSTM(4)(TokenEmbedding(1000, 8)(ids))
    model = keras.Model(inputs, {"ids": ids, "score": keras.layers.Dense(1)(hidden)})
    model.export(tmp_path / "export", format="tf_saved_model", verbose=False)

    texts = ["A fine, moving film.", "", "Schön. " * 200]
    expected = model(tf.constant(texts))
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            EXPORT_CHECK,
            str(tmp_path / "export"),
            __import__("json").dumps(texts),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    served = __import__("json").loads(result.stdout.strip().splitlines()[-1])
    values = list(served.values())
    ids_out = next(v for v in values if isinstance(v[0][0], int))
    score_out = next(v for v in values if isinstance(v[0][0], float))
    np.testing.assert_array_equal(ids_out, expected["ids"].numpy())
    np.testing.assert_allclose(score_out, expected["score"].numpy(), rtol=1e-5, atol=1e-6)


def test_subword_sampling_varies_segmentation_but_not_text(sentiment_proto):
    tokenizer = SentencePieceTokenizer(sentiment_proto)
    texts = tf.constant(["An unexpectedly moving and thoroughly entertaining film."] * 20)
    sampled = tokenizer.sampling_tokenize(texts, alpha=0.5)
    segmentations = {tuple(row) for row in sampled.to_list()}
    assert len(segmentations) > 1
    assert set(tokenizer.detokenize(sampled).numpy()) == {texts.numpy()[0]}
