"""Adversarial training on word vectors: the perturbation, the update, tf.distribute."""

import json
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from nlp_lstm.adversarial import AdversarialEmbeddingTraining
from nlp_lstm.models.sentiment import build_sentiment_classifier

LOSS = keras.losses.SparseCategoricalCrossentropy()


def classifier(seed: int = 3) -> keras.Model:
    """A tiny BiLSTM classifier without dropout, so every pass is deterministic."""
    keras.utils.set_random_seed(seed)
    model = build_sentiment_classifier(
        30, 2, embedding_dim=6, units=5, layers=1, dropout=0.0, embedding_dropout=0.0
    )
    model(np.ones((1, 4), "int32"))
    return model


def embedding_of(model: keras.Model):
    return model.get_layer("token_embedding")


def batch() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    ids = rng.integers(1, 30, size=(8, 7)).astype("int32")
    ids[:3, 5:] = 0  # padding
    return ids, (ids[:, 0] % 2).astype("int32")


def losses_with_shift(model: keras.Model, ids, labels, shift):
    """Per-example losses, by hand: the model's layers after the embedding, run on the
    word vectors plus ``shift`` (the padding mask comes from the ids)."""
    mask = ids != 0
    sequences = model.get_layer("bilstm_1")(embedding_of(model)(ids) + shift, mask=mask)
    pooled = model.get_layer("pooling")(sequences, mask=mask)
    return keras.losses.sparse_categorical_crossentropy(
        labels, model.get_layer("probabilities")(pooled)
    )


def test_the_perturbation_has_norm_epsilon_per_example_and_raises_each_loss():
    model = classifier()
    ids, labels = batch()
    trainer = AdversarialEmbeddingTraining(model, embedding_of(model), epsilon=0.5)
    zero = tf.zeros((8, 7, 6))
    with tf.GradientTape() as tape:
        tape.watch(zero)
        losses = losses_with_shift(model, ids, labels, zero)
        loss = tf.reduce_mean(losses)
    np.testing.assert_allclose(
        losses, keras.losses.sparse_categorical_crossentropy(labels, model(ids)), rtol=1e-5
    )
    shift = trainer.perturbation(tape.gradient(loss, zero))
    np.testing.assert_allclose(tf.norm(shift, axis=[1, 2]), 0.5, rtol=1e-5)
    assert np.abs(shift.numpy()[:3, 5:]).max() == 0  # padding is not perturbed
    uphill = losses_with_shift(model, ids, labels, shift).numpy()
    downhill = losses_with_shift(model, ids, labels, -shift).numpy()
    assert (downhill < losses.numpy()).all() and (losses.numpy() < uphill).all()


def test_a_step_descends_on_the_usual_plus_the_perturbed_loss():
    ids, labels = batch()
    rate, epsilon = 0.1, 0.5
    trained = classifier()
    trainer = AdversarialEmbeddingTraining(trained, embedding_of(trained), epsilon)
    trainer.compile(optimizer=keras.optimizers.SGD(rate), loss=LOSS)
    trainer.train_on_batch(ids, labels)

    # The same step by hand: the second gradient is taken with each example's vectors
    # moved by epsilon along that example's gradient.
    expected = classifier()
    variables = expected.trainable_variables
    zero = tf.zeros((8, 7, 6))
    with tf.GradientTape() as tape:
        tape.watch(zero)
        loss = tf.reduce_mean(losses_with_shift(expected, ids, labels, zero))
    *usual, toward = tape.gradient(loss, [*variables, zero])
    norms = tf.norm(toward, axis=[1, 2], keepdims=True)
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(losses_with_shift(expected, ids, labels, epsilon * toward / norms))
    perturbed = tape.gradient(loss, variables)
    for variable, a, b in zip(variables, usual, perturbed):
        variable.assign(variable - rate * (tf.convert_to_tensor(a) + tf.convert_to_tensor(b)))

    for got, want in zip(trained.weights, expected.weights):
        np.testing.assert_allclose(got.numpy(), want.numpy(), atol=1e-6, err_msg=got.path)


def test_the_embedding_must_belong_to_the_model_and_epsilon_be_positive():
    model = classifier()
    with pytest.raises(ValueError, match="not a TokenEmbedding of"):
        AdversarialEmbeddingTraining(model, embedding_of(classifier(seed=4)), 1.0)
    with pytest.raises(ValueError, match="not a TokenEmbedding of"):
        AdversarialEmbeddingTraining(model, model.get_layer("pooling"), 1.0)
    with pytest.raises(ValueError, match="epsilon must be positive"):
        AdversarialEmbeddingTraining(model, embedding_of(model), 0.0)


MIRRORED = """
import json
import numpy as np
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
import keras
from nlp_lstm.adversarial import AdversarialEmbeddingTraining
from nlp_lstm.models.sentiment import build_sentiment_classifier

ids = np.random.default_rng(0).integers(1, 30, size=(64, 6)).astype("int32")
labels = (ids[:, 0] < 15).astype("int32")
strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
with strategy.scope():
    keras.utils.set_random_seed(1)
    model = build_sentiment_classifier(30, 2, embedding_dim=8, units=8, layers=1)
    trainer = AdversarialEmbeddingTraining(model, model.get_layer("token_embedding"), 0.5)
    trainer.compile(optimizer=keras.optimizers.Adam(0.02),
                    loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = trainer.fit(ids, labels, batch_size=16, epochs=15, verbose=0).history
print(json.dumps({"replicas": strategy.num_replicas_in_sync, "loss": history["loss"],
                  "accuracy": history["accuracy"][-1]}))
"""


def test_it_trains_under_a_mirrored_strategy():
    """Two logical CPUs stand in for two GPUs; each replica perturbs with its own gradient."""
    result = subprocess.run(
        [sys.executable, "-c", MIRRORED], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["replicas"] == 2
    assert out["loss"][-1] < out["loss"][0] - 0.2 and out["accuracy"] > 0.9
