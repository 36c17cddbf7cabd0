"""Character language model: ids -> embedding -> stacked LSTM -> next-character logits.

Also how it serves itself: a one-step model carries the LSTM states, so generating a
character costs one step whatever the prompt length, and ``export_generator`` writes
the string-in SavedModel (``prompt`` + sampling controls -> ``text``).
"""

from __future__ import annotations

from pathlib import Path

import keras
import tensorflow as tf

from nlp_lstm.decoding import sample_next
from nlp_lstm.embedding import TokenEmbedding
from nlp_lstm.layers.cells import recurrent_layer, state_count
from nlp_lstm.models.string_batches import at_least_one_row
from nlp_lstm.tokenization import BOS_ID, CharacterTokenizer
from nlp_lstm.tokenization.special_ids import NUM_SPECIAL

MAX_NEW_CHARS = 10_000
MAX_PROMPT_CHARS = 10_000


def build_char_language_model(
    vocabulary_size: int,
    embedding_dim: int = 64,
    units: int = 512,
    layers: int = 2,
    dropout: float = 0.2,
    cell: str = "lstm",
) -> keras.Model:
    """The training model: ``int32[batch, time]`` -> ``float32[batch, time, vocabulary]`` logits.

    Every recurrent layer (``cell``: ``lstm``, ``gru`` or ``peephole``) returns its
    states too (ignored here) so that ``step_model`` can reuse the same layers with
    explicit states.
    """
    ids = keras.Input(shape=(None,), dtype="int32", name="token_ids")
    x = TokenEmbedding(vocabulary_size, embedding_dim, name="token_embedding")(ids)
    for index in range(layers):
        x = recurrent_layer(
            cell, units, return_sequences=True, return_state=True, name=f"{cell}_{index + 1}"
        )(x)[0]
        x = keras.layers.Dropout(dropout, name=f"dropout_{index + 1}")(x)
    logits = keras.layers.Dense(vocabulary_size, dtype="float32", name="logits")(x)
    return keras.Model(ids, logits, name="char_language_model")


def recurrent_layers(model: keras.Model) -> list[keras.layers.RNN]:
    return [layer for layer in model.layers if isinstance(layer, keras.layers.RNN)]


def state_shapes(model: keras.Model) -> list[int]:
    """The size of every state the step model carries, in order (h, c per LSTM; h per GRU)."""
    return [layer.units for layer in recurrent_layers(model) for _ in range(state_count(layer))]


def step_model(model: keras.Model) -> keras.Model:
    """The same weights as ``model``, run over ``ids`` from given states.

    Inputs: ``ids int32[batch, time]`` and the states (``[h1, c1, h2, c2, ...]`` for
    LSTMs, one ``h`` per GRU layer, see ``state_shapes``);
    outputs: last-step logits and the new states. With ``time == 1`` this is one
    generation step; with the prompt it primes the states (padding is masked, so
    each row's states stop at its last real character).
    """
    ids = keras.Input(shape=(None,), dtype="int32")
    states_in = [keras.Input(shape=(units,)) for units in state_shapes(model)]
    x = model.get_layer("token_embedding")(ids)
    states_out, used = [], 0
    for layer in recurrent_layers(model):
        count = state_count(layer)
        x, *states = layer(x, initial_state=states_in[used : used + count])
        states_out += states
        used += count
    logits = model.get_layer("logits")(x)
    return keras.Model([ids, *states_in], [logits, *states_out], name="char_step_model")


class CharGenerator(tf.Module):
    """Prompted, batched sampling from a character language model, in the graph."""

    def __init__(self, model: keras.Model, tokenizer: CharacterTokenizer):
        super().__init__()
        self.step = step_model(model)
        self.tokenizer = tokenizer
        self.state_shapes = state_shapes(model)

    def generate(self, prompt, max_new_chars, temperature, top_k, top_p, seed):
        """Returns ``prompt`` + up to ``max_new_chars`` sampled characters per row."""
        prompt, rows = at_least_one_row(tf.convert_to_tensor(prompt, tf.string))
        batch = tf.shape(prompt)[0]
        max_new_chars = tf.clip_by_value(tf.cast(max_new_chars, tf.int32), 0, MAX_NEW_CHARS)
        tokens = self.tokenizer.tokenize(
            tf.strings.substr(prompt, 0, MAX_PROMPT_CHARS, unit="UTF8_CHAR")
        )
        bos = tf.fill([batch, 1], BOS_ID)
        primed = tf.concat([bos, tf.cast(tokens, tf.int32)], axis=1).to_tensor()
        states = [tf.zeros([batch, units]) for units in self.state_shapes]
        outputs = self.step([primed, *states], training=False)
        last = tf.cast(tokens.row_lengths(), tf.int32)  # index of each row's last real token
        logits = tf.gather(outputs[0], last, axis=1, batch_dims=1)
        states = list(outputs[1:])
        seed = tf.cast(seed, tf.int64)

        never_special = tf.concat(
            [
                tf.fill([NUM_SPECIAL], -1e9),
                tf.zeros([self.tokenizer.vocabulary_size() - NUM_SPECIAL]),
            ],
            0,
        )

        def body(step, logits, states, generated):
            next_ids = sample_next(
                logits + never_special,
                temperature,
                top_k,
                top_p,
                tf.stack([seed, tf.cast(step, tf.int64)]),
            )
            generated = generated.write(step, next_ids)
            out = self.step([next_ids[:, None], *states], training=False)
            return step + 1, out[0][:, -1], list(out[1:]), generated

        generated = tf.TensorArray(tf.int32, size=max_new_chars, element_shape=[None])
        _, _, _, generated = tf.while_loop(
            lambda step, *_: step < max_new_chars,
            body,
            [tf.constant(0), logits, states, generated],
            shape_invariants=[
                tf.TensorShape([]),
                tf.TensorShape([None, None]),
                [tf.TensorShape([None, u]) for u in self.state_shapes],
                tf.TensorShape(None),
            ],
        )
        new_ids = tf.cond(
            max_new_chars > 0,  # stacking an empty TensorArray is an error
            lambda: tf.transpose(tf.reshape(generated.stack(), [max_new_chars, batch])),
            lambda: tf.zeros([batch, 0], tf.int32),
        )
        text = self.tokenizer.detokenize(new_ids, stop_at_eos=True)
        return tf.strings.join([prompt, text])[:rows]


def export_generator(model: keras.Model, tokenizer: CharacterTokenizer, directory: Path) -> None:
    """Writes the string-in SavedModel into ``directory``.

    Signature ``serving_default``: ``prompt: string[batch]``, ``max_new_chars: int32``,
    ``temperature: float32`` (0 = greedy), ``top_k: int32`` (0 = off), ``top_p: float32``
    (1 = off), ``seed: int64`` -> ``text: string[batch]`` (prompt + continuation).
    """
    generator = CharGenerator(model, tokenizer)
    archive = keras.export.ExportArchive()
    archive.track(generator.step)
    archive.track(tokenizer)

    @tf.function(
        input_signature=[
            tf.TensorSpec([None], tf.string, name="prompt"),
            tf.TensorSpec([], tf.int32, name="max_new_chars"),
            tf.TensorSpec([], tf.float32, name="temperature"),
            tf.TensorSpec([], tf.int32, name="top_k"),
            tf.TensorSpec([], tf.float32, name="top_p"),
            tf.TensorSpec([], tf.int64, name="seed"),
        ]
    )
    def serve(prompt, max_new_chars, temperature, top_k, top_p, seed):
        return {"text": generator.generate(prompt, max_new_chars, temperature, top_k, top_p, seed)}

    archive.add_endpoint("serving_default", serve)
    archive.write_out(str(directory), verbose=False)
