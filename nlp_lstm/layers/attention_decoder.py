"""A stacked recurrent decoder with Luong attention and input feeding."""

from __future__ import annotations

import keras
from keras import ops

from nlp_lstm.layers.cells import recurrent_cell, state_count

MASKED_SCORE = -1e9


@keras.saving.register_keras_serializable(package="nlp_lstm")
class AttentionDecoder(keras.layers.Layer):
    """Luong et al. (2015): global attention, "general" score, input feeding.

    At step ``t``, with ``y`` the previous target token's vector and ``a`` the
    previous attentional vector (input feeding)::

        h_t     = LSTM stack([y; a_{t-1}], states)
        weights = softmax(h_t . W_a m_s)       over the unmasked source positions s
        context = sum_s weights_s m_s
        a_t     = tanh(W_c [context; h_t])     -> the output projection

    The initial states come from the mean of the memory through a dense "bridge"
    (as in Bahdanau et al. and Nematus), so the decoder starts from the whole
    source. The cells keep default activations and take no recurrent dropout.

    Args:
        units: cell units, also the size of the attentional vector.
        layers: stacked cells.
        dropout: on the inputs of every cell and on the attentional vector.
        cell: ``lstm``, ``gru`` or ``peephole``.
    """

    def __init__(self, units: int, layers: int = 1, dropout: float = 0.0, cell: str = "lstm",
                 **kwargs):
        super().__init__(**kwargs)
        self.units, self.num_layers, self.dropout_rate, self.cell = units, layers, dropout, cell
        self.cells = [recurrent_cell(cell, units, name=f"{cell}_cell_{i + 1}")
                      for i in range(layers)]
        self.states_per_cell = state_count(self.cells[0])
        self.bridge = keras.layers.Dense(self.states_per_cell * units * layers, activation="tanh",
                                         name="bridge")
        self.memory_keys = keras.layers.Dense(units, use_bias=False, name="memory_keys")
        self.attentional = keras.layers.Dense(units, activation="tanh", use_bias=False,
                                              name="attentional")
        self.dropout = keras.layers.Dropout(dropout)
        self.supports_masking = True  # the target mask passes through to the logits

    def build(self, inputs_shape, memory_shape):
        input_dim, memory_dim = inputs_shape[-1], memory_shape[-1]
        for index, cell in enumerate(self.cells):
            cell.build((None, input_dim + self.units if index == 0 else self.units))
        self.bridge.build((None, memory_dim))
        self.memory_keys.build((None, None, memory_dim))
        self.attentional.build((None, memory_dim + self.units))
        self.built = True

    def attend(self, memory, memory_mask):
        """What every step needs from the encoder: ``(memory, keys, mask)``."""
        return memory, self.memory_keys(memory), memory_mask

    def initial_state(self, memory, memory_mask) -> list:
        """``[h_1, c_1, ..., h_n, c_n, a_0]`` (no ``c`` for GRUs) from the mean of the
        unmasked memory."""
        weights = ops.cast(memory_mask, memory.dtype)[..., None]
        mean = ops.sum(memory * weights, axis=1) / ops.maximum(ops.sum(weights, axis=1), 1.0)
        states = ops.split(self.bridge(mean), self.states_per_cell * self.num_layers, axis=-1)
        return [*states, ops.zeros_like(states[0])]

    def step(self, inputs, state: list, attended, training=None):
        """One decoding step.

        Args:
            inputs: ``[batch, features]``, the previous target token's vector.
            state: ``[h_1, c_1, ..., a_{t-1}]`` as from ``initial_state``.
            attended: ``attend(memory, memory_mask)``.

        Returns:
            ``(attentional [batch, units], new state, attention weights [batch, source])``.
        """
        memory, keys, mask = attended
        x = ops.concatenate([inputs, state[-1]], axis=-1)
        new_state, count = [], self.states_per_cell
        for index, cell in enumerate(self.cells):
            x, states = cell(self.dropout(x, training=training),
                             state[count * index: count * (index + 1)], training=training)
            new_state += list(states)
        scores = ops.einsum("bsu,bu->bs", keys, x)
        scores = ops.where(mask, scores, ops.cast(MASKED_SCORE, scores.dtype))
        weights = ops.softmax(scores, axis=-1)
        context = ops.einsum("bs,bsd->bd", weights, memory)
        attentional = self.attentional(ops.concatenate([context, x], axis=-1))
        return attentional, [*new_state, attentional], weights

    def call(self, inputs, memory, memory_mask, training=None):
        """Teacher-forced decoding of whole target sequences.

        Args:
            inputs: ``[batch, time, features]``, the target vectors shifted right (bos first).
            memory: ``[batch, source, memory_features]``, the encoder outputs.
            memory_mask: ``bool[batch, source]``, true at real source tokens.

        Returns:
            ``[batch, time, units]`` attentional vectors (dropout applied).
        """
        attended = self.attend(memory, memory_mask)

        def one_step(state, inputs_t):
            _, state, _ = self.step(inputs_t, state, attended, training=training)
            return state, state  # keras.ops.scan stacks outputs shaped like the carry

        _, states = ops.scan(one_step, self.initial_state(memory, memory_mask),
                             ops.transpose(inputs, (1, 0, 2)))
        return self.dropout(ops.transpose(states[-1], (1, 0, 2)), training=training)

    def compute_output_shape(self, inputs_shape, memory_shape=None, memory_mask_shape=None):
        return (*inputs_shape[:-1], self.units)

    def get_config(self):
        config = super().get_config()
        config.update(units=self.units, layers=self.num_layers, dropout=self.dropout_rate,
                      cell=self.cell)
        return config
