"""Adversarial training on word vectors: the fast gradient method on an embedding table.

Example:
    >>> table = classifier.get_layer("token_embedding").embedding.embeddings
    >>> trainer = AdversarialEmbeddingTraining(classifier, table, epsilon=8.0)
    >>> trainer.compile(optimizer="adamw", loss="sparse_categorical_crossentropy")
    >>> trainer.fit(batches)  # trains (and checkpoints) the classifier's weights
"""

from __future__ import annotations

import keras
import tensorflow as tf


class AdversarialEmbeddingTraining(keras.Model):
    """Trains ``model`` on two losses per batch: its usual loss, and its loss with the
    embedding table moved by ``epsilon`` (L2 norm over the whole table) along the usual
    loss's gradient, the change of the word vectors that hurts most to first order
    (Goodfellow et al. 2015; Miyato et al. 2017, "Adversarial training methods for
    semi-supervised text classification"). The model learns to keep its prediction when
    the vectors of a sentence's words move a little, which regularises a classifier
    trained on few examples.

    The perturbed pass is stateless: the table variable is never written, so a replica
    of a ``tf.distribute`` strategy perturbs with its own batch's gradient and nothing
    can be left perturbed. Progress shows the usual (unperturbed) loss.

    Args:
        model: the model to train. This wrapper has exactly its weights; save, export and
            evaluate ``model`` itself.
        table: the embedding variable to perturb, one of ``model``'s trainable weights.
        epsilon: L2 norm of the perturbation (> 0), in the units of the vectors: the
            sentiment full preset uses 8 on GloVe vectors (rows of norm about 5); a freshly
            initialised table (rows of norm about 0.2) needs a few hundredths.

    Raises:
        ValueError: if ``table`` is not a trainable weight of ``model``, or ``epsilon <= 0``.
    """

    def __init__(self, model: keras.Model, table: keras.Variable, epsilon: float, **kwargs):
        super().__init__(name=f"{model.name}_adversarial", **kwargs)
        positions = [i for i, v in enumerate(model.trainable_variables) if v is table]
        if not positions:
            raise ValueError(f"{table.path} is not a trainable weight of {model.name}")
        if epsilon <= 0:
            raise ValueError(f"epsilon must be positive, got {epsilon}")
        self.model, self.epsilon, self.table_position = model, float(epsilon), positions[0]
        self.built = True  # no weights of its own (so a checkpoint loads before a step)

    def call(self, inputs, training=None):
        return self.model(inputs, training=training)

    def perturbation(self, gradient) -> tf.Tensor:
        """``epsilon`` times the table gradient scaled to unit L2 norm (dense)."""
        return self.epsilon * tf.math.l2_normalize(tf.convert_to_tensor(gradient))

    def train_step(self, data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        variables = self.trainable_variables
        with tf.GradientTape() as tape:
            y_pred = self(x, training=True)
            loss = self.compute_loss(x, y, y_pred, sample_weight)
        gradients = tape.gradient(self.optimizer.scale_loss(loss), variables)
        shift = tf.stop_gradient(self.perturbation(gradients[self.table_position]))
        with tf.GradientTape() as tape:
            values = [v.value + shift if i == self.table_position else v.value
                      for i, v in enumerate(variables)]
            perturbed, states = self.stateless_call(
                values, [v.value for v in self.non_trainable_variables], x, training=True)
            adversarial_loss = self.compute_loss(x, y, perturbed, sample_weight)
        adversarial = tape.gradient(self.optimizer.scale_loss(adversarial_loss), variables)
        for variable, state in zip(self.non_trainable_variables, states):
            variable.assign(state)  # e.g. dropout's seeds move on as after a normal pass
        self.optimizer.apply_gradients(
            (tf.convert_to_tensor(a) + tf.convert_to_tensor(b), v)
            for a, b, v in zip(gradients, adversarial, variables))
        replicas = tf.distribute.get_strategy().num_replicas_in_sync  # the loss is 1/replicas
        for metric in self.metrics:
            if metric.name == "loss":
                metric.update_state(loss * replicas, sample_weight=tf.shape(y)[0])
        return self.compute_metrics(x, y, y_pred, sample_weight)
