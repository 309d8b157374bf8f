"""LSTM decoder with optional attention: teacher forcing for training, greedy otherwise."""

from __future__ import annotations

import keras
import tensorflow as tf
from keras import ops

from tfs2s.layers.masking import shift_right
from tfs2s.layers.xla_lstm import XlaLSTM


@keras.saving.register_keras_serializable(package="tfs2s")
class SequenceDecoder(keras.layers.Layer):
    """Decodes a target sequence from an encoder's final state and output sequence.

    Each step feeds the previous target frame (zeros at step 0) to an LSTM started from
    the encoder's final state. With ``attention`` the LSTM output ``h_t`` attends over the
    real steps of the encoder outputs (dot-product scores) and ``tanh(W [h_t; c_t])`` is
    the attentional state (Luong et al., 2015); a linear layer maps it to a frame.

    Two modes share the weights and the step arithmetic:

    * teacher forcing (``inputs`` has ``"target"``): the previous frames are the true
      target shifted right by one step; all steps run in one LSTM call.
    * greedy (no ``"target"``): each step feeds the frame the decoder predicted at the
      step before; as many steps run as the memory has (dynamic, graph-mode safe).

    Args:
        units: LSTM units; must equal the width of the encoder's states (and of its
            output sequence when ``attention``).
        output_dim: feature size of the decoded frames.
        attention: attend over the encoder outputs.
        unroll: unroll the teacher-forced LSTM over the steps (needs a static step count;
            the greedy mode always loops).
        dropout: dropout rate on the LSTM's input frames (teacher forcing, training only).
        recurrent_dropout: dropout rate on the LSTM's recurrent state (training only).
        xla_loops: when not unrolled, run the teacher-forced LSTM as one XLA-compiled
            loop (:class:`~tfs2s.layers.xla_lstm.XlaLSTM`, the same function); off (the
            default, and what configs saved before the key load with): Keras's loop.

    Inputs (dict):
        memory: float32 (batch, steps, units) encoder output sequence.
        memory_mask: float32 (batch, steps), 1.0 on real steps.
        state_h: float32 (batch, units) encoder final hidden state.
        state_c: float32 (batch, units) encoder final cell state.
        target: optional float32 (batch, steps, output_dim) true frames (teacher forcing).

    Returns:
        float32 (batch, steps, output_dim) decoded frames.
    """

    def __init__(
        self,
        units: int,
        output_dim: int,
        attention: bool = True,
        unroll: bool = False,
        dropout: float = 0.0,
        recurrent_dropout: float = 0.0,
        xla_loops: bool = False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.units = units
        self.output_dim = output_dim
        self.attention = attention
        self.unroll = unroll
        self.dropout = dropout
        self.recurrent_dropout = recurrent_dropout
        self.xla_loops = xla_loops
        self.lstm = (XlaLSTM if xla_loops else keras.layers.LSTM)(
            units,
            return_sequences=True,
            unroll=unroll,
            dropout=dropout,
            recurrent_dropout=recurrent_dropout,
            name="lstm",
        )
        if attention:
            self.attend = keras.layers.Attention(name="attend")
            self.combine = keras.layers.Dense(units, activation="tanh", name="combine")
        self.project = keras.layers.Dense(output_dim, name="project")

    def build(self, input_shape):
        memory_shape = tuple(input_shape["memory"])
        if memory_shape[-1] is not None and memory_shape[-1] != self.units and self.attention:
            raise ValueError(
                f"SequenceDecoder {self.name}: attention needs memory width == units "
                f"({self.units}), found memory shape {memory_shape}"
            )
        shapes = [
            (self.lstm, (None, None, self.output_dim)),
            (self.project, (None, None, self.units)),
        ]
        if self.attention:
            shapes += [
                (self.attend, [(None, None, self.units), memory_shape]),
                (self.combine, (None, None, self.units + memory_shape[-1])),
            ]
        for layer, shape in shapes:
            if not layer.built:
                layer.build(shape)

    def _frames(self, hidden, memory, valid):
        """Map LSTM outputs (batch, q, units) to frames (batch, q, output_dim)."""
        if self.attention:
            context = self.attend([hidden, memory], mask=[None, valid])
            hidden = self.combine(ops.concatenate([hidden, context], axis=-1))
        return self.project(hidden)

    def call(self, inputs):
        memory = inputs["memory"]
        valid = ops.cast(inputs["memory_mask"], "bool")
        states = [inputs["state_h"], inputs["state_c"]]
        if "target" in inputs:
            hidden = self.lstm(shift_right(inputs["target"]), initial_state=states)
            return self._frames(hidden, memory, valid)
        return self._greedy(memory, valid, states)

    def _greedy(self, memory, valid, states):
        batch, steps = tf.shape(memory)[0], tf.shape(memory)[1]
        frames = tf.TensorArray(memory.dtype, size=steps, element_shape=[None, self.output_dim])

        def step(t, previous, state_h, state_c, frames):
            hidden, (state_h, state_c) = self.lstm.cell(previous, [state_h, state_c])
            frame = self._frames(hidden[:, None, :], memory, valid)[:, 0, :]
            return t + 1, frame, state_h, state_c, frames.write(t, frame)

        start = tf.zeros([batch, self.output_dim], memory.dtype)
        *_, frames = tf.while_loop(
            lambda t, *_: t < steps, step, (tf.constant(0), start, *states, frames)
        )
        return tf.transpose(frames.stack(), [1, 0, 2])

    def compute_output_shape(self, input_shape):
        memory_shape = input_shape["memory"]
        return (memory_shape[0], memory_shape[1], self.output_dim)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "units": self.units,
                "output_dim": self.output_dim,
                "attention": self.attention,
                "unroll": self.unroll,
                "dropout": self.dropout,
                "recurrent_dropout": self.recurrent_dropout,
                "xla_loops": self.xla_loops,
            }
        )
        return config
