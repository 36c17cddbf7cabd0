"""``keras.layers.LSTM`` with its input projection hoisted out of the time loop off cuDNN."""

from __future__ import annotations

import functools

import keras
import tensorflow as tf
from keras import ops

from nlp_lstm.layers import onednn
from nlp_lstm.layers.hoisted_rnn import first_mask, hoistable, run_hoisted
from nlp_lstm.layers.lstm_kernel import lstm_over_time


@keras.saving.register_keras_serializable(package="nlp_lstm")
class HoistedLSTM(keras.layers.LSTM):
    """Computes what ``keras.layers.LSTM`` computes, with the same weights and config.

    On a GPU it is that layer (cuDNN). Elsewhere ``inputs @ kernel + bias`` is one
    product over all steps and each step only adds ``h @ recurrent_kernel`` (see
    ``nlp_lstm.layers.hoisted_rnn``); with the default activations the loop is
    ``lstm_over_time``, whose gradient keeps the large products out of the loop too.
    A one-step sequence (generation) runs the cell directly. With dropout inside the
    cell it falls back to Keras's loop.

    Example:
        >>> layer = HoistedLSTM(64, return_sequences=True)
        >>> outputs = layer(keras.ops.ones((2, 10, 8)))   # [2, 10, 64]
    """

    def inner_loop(self, sequences, initial_state, mask, training=False):
        if not hoistable(self):
            return super().inner_loop(sequences, initial_state, mask, training)
        mask = first_mask(mask)
        if sequences.shape[1] == 1:
            return self._one_step(
                sequences[:, 0], initial_state, None if mask is None else mask[:, 0], training
            )
        cell = self.cell
        recurrent_kernel = ops.convert_to_tensor(cell.recurrent_kernel)
        if (
            keras.activations.serialize(cell.activation) == "tanh"
            and keras.activations.serialize(cell.recurrent_activation) == "sigmoid"
        ):
            return self._fused_loop(sequences, recurrent_kernel, initial_state, mask, training)
        return run_hoisted(self, sequences, initial_state, mask)

    def _one_step(self, inputs, initial_state, mask, training):
        """A single step (each generated character): the cell itself, without a loop.
        A masked row keeps its states and outputs zeros (as Keras's loop does)."""
        output, (h, c) = self.cell(inputs, list(initial_state), training=training)
        if mask is not None:
            keep = ops.expand_dims(mask, -1)
            output = ops.where(keep, output, ops.zeros_like(output))
            h, c = ops.where(keep, h, initial_state[0]), ops.where(keep, c, initial_state[1])
        return output, output[:, None], [h, c]

    def _fused_loop(self, sequences, recurrent_kernel, initial_state, mask, training):
        """The whole loop in one op, with Keras's conventions for direction, masked
        outputs and return values (those of ``keras.layers.RNN.inner_loop``): in
        training oneDNN's LSTM where it is ``available()``, else ``lstm_over_time``."""
        cell = self.cell
        inputs = tf.transpose(sequences, [1, 0, 2])  # time-major before the projection
        mask = None if mask is None else tf.transpose(mask)
        bias = cell.bias if cell.use_bias else tf.zeros([4 * self.units])
        if training and onednn.available(inputs.dtype.name):
            loop = functools.partial(
                self._onednn_loop, inputs, recurrent_kernel, bias, initial_state
            )
            if mask is None:
                outputs, h, c = loop(None)
            else:
                # A batch without padding (fixed-length windows, a length bucket of
                # equal rows) skips the work that masks cost the op.
                outputs, h, c = tf.cond(tf.reduce_all(mask), lambda: loop(None), lambda: loop(mask))
        else:
            if self.go_backwards:  # processed and returned in reverse order, as Keras does
                inputs = tf.reverse(inputs, [0])
                mask = None if mask is None else tf.reverse(mask, [0])
            states, c = lstm_over_time(
                ops.matmul(inputs, cell.kernel),
                bias,
                recurrent_kernel,
                *initial_state,
                mask=mask,
                training=bool(training),
            )
            outputs, h = self._masked_outputs(states, mask), states[-1]
        dtype = self.compute_dtype
        outputs, last = tf.cast(outputs, dtype), tf.cast(outputs[-1], dtype)
        sequence = tf.transpose(outputs, [1, 0, 2]) if self.return_sequences else last[:, None]
        return last, sequence, [tf.cast(h, dtype), tf.cast(c, dtype)]

    def _masked_outputs(self, states, mask):
        """The outputs at every step from the hidden ``states`` (time-major): a masked
        step outputs zeros, or the last unmasked output, as Keras's loop does."""
        if mask is None:
            return states
        shown = (
            mask if self.zero_output_for_mask else tf.cumsum(tf.cast(mask, tf.int32), axis=0) > 0
        )
        return tf.where(shown[..., None], states, tf.zeros_like(states))

    def _onednn_loop(self, inputs, recurrent_kernel, bias, initial_state, mask):
        """``onednn.onednn_lstm`` over time-major ``inputs``: the outputs at every step
        (in Keras's order for ``go_backwards``) and the last states ``(h, c)``.

        oneDNN runs every row from its first step, so masks must be right-padded (as
        cuDNN's on a GPU); a row runs backwards within its own length."""
        lengths = None if mask is None else right_padded_lengths(mask, self.name)
        reverse = functools.partial(
            tf.reverse_sequence, seq_lengths=lengths, seq_axis=0, batch_axis=1
        )
        if self.go_backwards:
            inputs = tf.reverse(inputs, [0]) if lengths is None else reverse(inputs)
        states, h, c = onednn.onednn_lstm(
            inputs, self.cell.kernel, recurrent_kernel, bias, *initial_state, lengths=lengths
        )
        if self.go_backwards and lengths is not None:  # Keras's order: padding first
            states, mask = tf.reverse(reverse(states), [0]), tf.reverse(mask, [0])
        return self._masked_outputs(states, mask), h, c


def right_padded_lengths(mask, name: str):
    """Each row's length in a time-major ``bool[time, batch]`` mask that must be
    right-padded (checked when the graph runs)."""
    lengths = tf.reduce_sum(tf.cast(mask, tf.int32), 0)
    expected = tf.range(tf.shape(mask)[0])[:, None] < lengths[None]
    tf.debugging.assert_equal(
        mask,
        expected,
        message=f"{name}: the oneDNN LSTM takes right-padded masks only (True, then False "
        "in every row); pad on the right, or set NLP_LSTM_ONEDNN=0 to train without it",
    )
    return lengths
