"""Adversarial training on word vectors: the fast gradient method on each sentence's vectors.

Example:
    >>> embedding = classifier.get_layer("token_embedding")
    >>> trainer = AdversarialEmbeddingTraining(classifier, embedding, epsilon=1.0)
    >>> trainer.compile(optimizer="adamw", loss="sparse_categorical_crossentropy")
    >>> trainer.fit(batches)  # trains (and checkpoints) the classifier's weights
"""

from __future__ import annotations

import keras
import tensorflow as tf

from nlp_lstm.embedding import TokenEmbedding


class AdversarialEmbeddingTraining(keras.Model):
    """Trains ``model`` on two losses per batch: its usual loss, and its loss with each
    example's word vectors moved by ``epsilon`` (L2 norm over the example's vectors)
    along the usual loss's gradient, the change that hurts most to first order
    (Goodfellow et al. 2015; Miyato et al. 2017, "Adversarial training methods for
    semi-supervised text classification"). The model learns to keep its prediction when
    the vectors of a sentence's words move a little, which regularises a classifier
    trained on few examples.

    The perturbation is added to the vectors ``embedding`` outputs
    (``TokenEmbedding.shifted``), never to a weight: nothing can be left perturbed, and
    each replica of a ``tf.distribute`` strategy perturbs with its own examples'
    gradients. Progress shows the usual loss.

    Args:
        model: the model to train, whose input is the token ids ``embedding`` reads.
            This wrapper has exactly its weights; save, export and evaluate ``model``.
        embedding: the model's ``TokenEmbedding``.
        epsilon: L2 norm of each example's perturbation (> 0), in the units of the
            vectors: the sentiment full preset uses 1 on GloVe vectors (rows of norm
            about 5, some 20 tokens a sentence).

    Raises:
        ValueError: if ``embedding`` is not a ``TokenEmbedding`` of ``model``, or
            ``epsilon <= 0``.
    """

    def __init__(self, model: keras.Model, embedding: TokenEmbedding, epsilon: float, **kwargs):
        super().__init__(name=f"{model.name}_adversarial", **kwargs)
        if not (
            isinstance(embedding, TokenEmbedding)
            and any(layer is embedding for layer in model.layers)
        ):
            raise ValueError(f"{embedding.name} is not a TokenEmbedding of {model.name}")
        if epsilon <= 0:
            raise ValueError(f"epsilon must be positive, got {epsilon}")
        self.model, self.embedding, self.epsilon = model, embedding, float(epsilon)
        self.built = True  # no weights of its own (so a checkpoint loads before a step)

    def call(self, inputs, training=None):
        return self.model(inputs, training=training)

    def perturbation(self, gradient) -> tf.Tensor:
        """``epsilon`` times each example's vector gradient scaled to unit L2 norm."""
        gradient = tf.cast(gradient, "float32")
        return self.epsilon * tf.math.l2_normalize(
            gradient, axis=list(range(1, gradient.shape.rank))
        )

    def train_step(self, data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        variables = self.trainable_variables
        origin = tf.zeros(
            tf.concat([tf.shape(x), [self.embedding.output_dim]], 0), self.embedding.compute_dtype
        )  # a zero shift, to differentiate at
        with tf.GradientTape() as tape, self.embedding.shifted(origin):
            tape.watch(origin)
            y_pred = self(x, training=True)
            loss = self.compute_loss(x, y, y_pred, sample_weight)
        *gradients, toward = tape.gradient(self.optimizer.scale_loss(loss), [*variables, origin])
        shift = tf.stop_gradient(self.perturbation(toward))
        with tf.GradientTape() as tape, self.embedding.shifted(shift):
            adversarial_loss = self.compute_loss(x, y, self(x, training=True), sample_weight)
        adversarial = tape.gradient(self.optimizer.scale_loss(adversarial_loss), variables)
        self.optimizer.apply_gradients(
            (tf.convert_to_tensor(a) + tf.convert_to_tensor(b), v)
            for a, b, v in zip(gradients, adversarial, variables)
        )
        replicas = tf.distribute.get_strategy().num_replicas_in_sync  # the loss is 1/replicas
        for metric in self.metrics:
            if metric.name == "loss":
                metric.update_state(loss * replicas, sample_weight=tf.shape(y)[0])
        return self.compute_metrics(x, y, y_pred, sample_weight)
