"""A stacked recurrent decoder with Luong attention, with or without input feeding."""

from __future__ import annotations

import keras
from keras import ops
from keras.src.backend import rnn  # Keras's own time loop, as in hoisted_rnn

from nlp_lstm.layers.cells import recurrent_cell, recurrent_layer, state_count
from nlp_lstm.layers.hoisted_rnn import input_projection, projected_step
from nlp_lstm.layers.luong_kernel import luong_lstm_over_time

MASKED_SCORE = -1e9


@keras.saving.register_keras_serializable(package="nlp_lstm")
class AttentionDecoder(keras.layers.Layer):
    """Luong et al. (2015): global attention, "general" score, optional input feeding.

    At step ``t``, with ``y`` the previous target token's vector and ``a`` the
    previous attentional vector (input feeding)::

        h_t     = LSTM stack([y; a_{t-1}], states)
        weights = softmax(h_t . W_a m_s / sqrt(units))   over the unmasked source positions s
        context = sum_s weights_s m_s
        a_t     = tanh(W_c [context; h_t])     -> the output projection

    Without input feeding the stack reads ``y`` alone (``h_t = LSTM stack(y, states)``,
    as in TensorFlow's NMT tutorial). The recurrence then no longer waits for the
    attention, so in training each layer runs over all steps as one recurrent layer
    (``HoistedLSTM``: oneDNN's fused LSTM on CPUs) and the attention of all steps is
    a few batched products, which trains faster.

    The initial states come from the mean of the memory through a dense "bridge"
    (as in Bahdanau et al. and Nematus), so the decoder starts from the whole
    source. The cells keep default activations and take no recurrent dropout.
    Scores are scaled by ``1 / sqrt(units)`` as in scaled dot-product attention
    (Vaswani et al., 2017), so they start small and attention spreads over the
    source early in training instead of locking onto one position.

    Args:
        units: cell units, also the size of the attentional vector.
        layers: stacked cells.
        dropout: on the inputs of every cell and on the attentional vector.
        cell: ``lstm``, ``gru`` or ``peephole``.
        scaled_scores: whether to apply the ``1 / sqrt(units)`` scale (``False``
            gives Luong's unscaled "general" score).
        input_feeding: whether the first cell also reads ``a_{t-1}``.
    """

    def __init__(
        self,
        units: int,
        layers: int = 1,
        dropout: float = 0.0,
        cell: str = "lstm",
        scaled_scores: bool = True,
        input_feeding: bool = True,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.units, self.num_layers, self.dropout_rate, self.cell = units, layers, dropout, cell
        self.scaled_scores, self.input_feeding = scaled_scores, input_feeding
        if input_feeding:
            self.recurrent_layers = []
            self.cells = [
                recurrent_cell(cell, units, name=f"{cell}_cell_{i + 1}") for i in range(layers)
            ]
        else:  # whole layers for training; their cells for the step by step search
            self.recurrent_layers = [
                recurrent_layer(cell, units, return_sequences=True, name=f"{cell}_{i + 1}")
                for i in range(layers)
            ]
            self.cells = [layer.cell for layer in self.recurrent_layers]
        self.states_per_cell = state_count(self.cells[0])
        self.bridge = keras.layers.Dense(
            self.states_per_cell * units * layers, activation="tanh", name="bridge"
        )
        self.memory_keys = keras.layers.Dense(units, use_bias=False, name="memory_keys")
        self.attentional = keras.layers.Dense(
            units, activation="tanh", use_bias=False, name="attentional"
        )
        self.dropout = keras.layers.Dropout(dropout)
        self.supports_masking = True  # the target mask passes through to the logits

    def build(self, inputs_shape, memory_shape):
        input_dim, memory_dim = inputs_shape[-1], memory_shape[-1]
        first_dim = input_dim + self.units if self.input_feeding else input_dim
        for index, cell in enumerate(self.cells):
            cell.build((None, first_dim if index == 0 else self.units))
        for index, layer in enumerate(self.recurrent_layers):
            layer.build((None, None, first_dim if index == 0 else self.units))
        self.bridge.build((None, memory_dim))
        self.memory_keys.build((None, None, memory_dim))
        self.attentional.build((None, memory_dim + self.units))
        self.built = True

    def attend(self, memory, memory_mask):
        """What every step needs from the encoder: ``(values, keys, mask)``.

        ``keys = memory @ W_a`` (times the score scale) score the decoder state;
        ``values`` are the memory through the context's rows of ``W_c``: as
        ``context @ W = weights @ (memory @ W)``, a step mixes these ``units``-wide rows
        instead of projecting its context.
        """
        memory_rows = ops.convert_to_tensor(self.attentional.kernel)[: memory.shape[-1]]
        keys = self.memory_keys(memory)
        if self.scaled_scores:
            keys = keys * ops.cast(self.units**-0.5, keys.dtype)
        return ops.matmul(memory, memory_rows), keys, memory_mask

    def initial_state(self, memory, memory_mask) -> list:
        """``[h_1, c_1, ..., h_n, c_n, a_0]`` (no ``c`` for GRUs, no ``a_0`` without input
        feeding) from the mean of the unmasked memory."""
        weights = ops.cast(memory_mask, memory.dtype)[..., None]
        mean = ops.sum(memory * weights, axis=1) / ops.maximum(ops.sum(weights, axis=1), 1.0)
        states = ops.split(self.bridge(mean), self.states_per_cell * self.num_layers, axis=-1)
        return [*states, ops.zeros_like(states[0])] if self.input_feeding else states

    def step_function(self, attended, training=None):
        """``step(inputs, state) -> (attentional, state, weights)``: one decoding step,
        with the weights read once (here), as a search loop wants it.

        Args:
            attended: ``attend(memory, memory_mask)``.
            training: whether dropout applies.

        ``step`` takes ``inputs [batch, features]``, the previous target token's vector,
        and ``state`` as from ``initial_state``; it returns
        the attentional vector ``[batch, units]``, the new state and the attention
        weights ``[batch, source]``.
        """
        project_inputs, step = self._step_function(training)
        return lambda inputs, state: step(project_inputs(inputs), state, attended)

    def call(self, inputs, memory, memory_mask, training=None):
        """Teacher-forced decoding of whole target sequences.

        With input feeding, the target vectors' share of the first cell's input product
        is one product over all steps; the loop keeps the rest (see
        ``nlp_lstm.layers.hoisted_rnn``). With one LSTM cell the loop is
        ``luong_lstm_over_time``, whose gradient keeps the weights' products out of the
        loop too. Without it, each layer runs over all steps, then the attention.

        Args:
            inputs: ``[batch, time, features]``, the target vectors shifted right (bos first).
            memory: ``[batch, source, memory_features]``, the encoder outputs.
            memory_mask: ``bool[batch, source]``, true at real source tokens.

        Returns:
            ``[batch, time, units]`` attentional vectors (dropout applied).
        """
        attended = self.attend(memory, memory_mask)
        if not self.input_feeding:
            outputs = self._layer_by_layer(inputs, memory, memory_mask, attended, training)
            return self.dropout(outputs, training=training)
        project_inputs, step = self._step_function(training)
        projected, state = project_inputs(inputs), self.initial_state(memory, memory_mask)
        if self.cell == "lstm" and self.num_layers == 1:
            outputs = self._fused_loop(projected, state, attended, training)
        else:

            def one_step(projected_t, state):
                attentional, state, _ = step(projected_t, state, attended)
                return attentional, state

            _, outputs, _ = rnn(one_step, projected, state)
        return self.dropout(outputs, training=training)

    def _layer_by_layer(self, inputs, memory, memory_mask, attended, training):
        """Without input feeding: each recurrent layer over all steps, then the attention
        of every step at once."""
        count, state = self.states_per_cell, self.initial_state(memory, memory_mask)
        x = inputs
        for index, layer in enumerate(self.recurrent_layers):
            x = layer(
                self.dropout(x, training=training),
                initial_state=state[count * index : count * (index + 1)],
                training=training,
            )
        return self._attention(x, attended, self._kernel_rows()[2])[0]

    def _attention(self, h, attended, state_rows):
        """``(attentional, weights)`` for top states ``h [batch, ..., units]``: the
        weights over the source ``[batch, ..., source]`` and ``tanh(W_c [context; h])``."""
        values, keys, mask = attended
        steps = ops.reshape(h, (ops.shape(h)[0], -1, self.units))  # [batch, steps, units]
        scores = ops.einsum("btu,bsu->bts", steps, keys)
        scores = ops.where(mask[:, None], scores, ops.cast(MASKED_SCORE, scores.dtype))
        weights = ops.softmax(scores, axis=-1)
        context = ops.reshape(ops.einsum("bts,bsu->btu", weights, values), ops.shape(h))
        attentional = ops.tanh(context + ops.matmul(h, state_rows))
        return attentional, ops.reshape(weights, (*ops.shape(h)[:-1], -1))

    def _fused_loop(self, projected, state, attended, training):
        """``luong_lstm_over_time`` (one LSTM cell, hand-written gradient) on batch-major
        projected inputs: ``[batch, time, units]``."""
        values, keys, mask = attended
        _, feed_rows, state_rows = self._kernel_rows()
        kernel = ops.concatenate(
            [feed_rows, ops.convert_to_tensor(self.cells[0].recurrent_kernel)], axis=0
        )
        projected = ops.transpose(projected, (1, 0, 2))
        feed_scale = self.dropout(ops.ones_like(projected[..., : self.units]), training=training)
        score_bias = ops.where(mask, 0.0, MASKED_SCORE)
        outputs = luong_lstm_over_time(
            projected, feed_scale, kernel, state_rows, keys, values, score_bias, *state
        )
        return ops.cast(ops.transpose(outputs, (1, 0, 2)), self.compute_dtype)

    def _step_function(self, training):
        """``(project_inputs, step)`` with every weight read once, here.

        ``project_inputs(y) = dropout(y) @ W_y + b``, the target vectors' share of the
        first cell's input product (``[y; a_{t-1}] @ W = y @ W_y + a_{t-1} @ W_a``);
        ``step(projected_t, state, attended) -> (attentional, state, weights)``.
        """
        count = self.states_per_cell
        cells = [projected_step(cell) for cell in self.cells]  # (input bias, step) each
        inputs_rows, feed_rows, state_rows = self._kernel_rows()
        upper_kernels = [ops.convert_to_tensor(cell.kernel) for cell in self.cells[1:]]

        def project_inputs(inputs):
            return input_projection(
                self.dropout(inputs, training=training), inputs_rows, cells[0][0]
            )

        def step(projected_t, state, attended):
            z = projected_t
            if self.input_feeding:
                z = z + ops.matmul(self.dropout(state[-1], training=training), feed_rows)
            new_state = []
            for index, (_, cell_step) in enumerate(cells):
                x, states = cell_step(z, state[count * index : count * (index + 1)])
                new_state += list(states)
                if index + 1 < len(cells):  # the next cell's input product
                    z = input_projection(
                        self.dropout(x, training=training),
                        upper_kernels[index],
                        cells[index + 1][0],
                    )
            attentional, weights = self._attention(x, attended, state_rows)
            if self.input_feeding:
                new_state.append(attentional)
            return attentional, new_state, weights

        return project_inputs, step

    def _kernel_rows(self):
        """``(inputs_rows, feed_rows, state_rows)``: the first cell's kernel rows that
        multiply the target vector and the fed-back attentional vector (None without
        input feeding), and the attentional layer's rows that multiply the top cell's
        state (its other rows make ``attend``'s values)."""
        first_kernel = ops.convert_to_tensor(self.cells[0].kernel)
        state_rows = ops.convert_to_tensor(self.attentional.kernel)[-self.units :]
        if not self.input_feeding:
            return first_kernel, None, state_rows
        return first_kernel[: -self.units], first_kernel[-self.units :], state_rows

    def compute_output_shape(self, inputs_shape, memory_shape=None, memory_mask_shape=None):
        return (*inputs_shape[:-1], self.units)

    def get_config(self):
        config = super().get_config()
        config.update(
            units=self.units,
            layers=self.num_layers,
            dropout=self.dropout_rate,
            cell=self.cell,
            scaled_scores=self.scaled_scores,
            input_feeding=self.input_feeding,
        )
        return config
