"""Stacked (bi)LSTM encoder of a padded sequence."""

from __future__ import annotations

import keras
from keras import ops

from tfs2s.layers.masking import zero_padded_steps
from tfs2s.layers.xla_lstm import XlaLSTM


@keras.saving.register_keras_serializable(package="tfs2s")
class SequenceEncoder(keras.Model):
    """Encodes a right-padded sequence with ``depth`` stacked (bidirectional) LSTMs.

    Padded steps are masked: the final states are those after the last real step (the
    backward direction starts at it) and the output sequence is 0 on padded steps.

    Args:
        input_dim: feature size of the input sequence.
        hidden: LSTM units per direction.
        depth: stacked LSTM layers.
        bidirectional: run each layer in both directions and concatenate.
        dropout: dropout rate on the input sequence (training only).
        unroll: unroll the LSTMs over the steps (needs a static step count when called).
        recurrent_dropout: dropout rate on the LSTMs' recurrent state (training only).
        layer_norm: layer-normalise the top layer's output sequence.
        exact_backward_mask: keep the backward direction's outputs on the real steps when
            the LSTMs are unrolled. Keras 3's unrolled backward RNN zeroes its masked
            outputs before putting them back in time order, so with a padded sequence it
            zeroes the outputs of the first real steps instead of the padded ones (the
            while-loop version is right). With this on, the backward LSTM does not zero
            them itself; this encoder zeroes the padded steps of the output anyway. Off
            only to load runs saved before the fix (2026-11-30), whose configs lack the key.
        xla_loops: when not unrolled, run each LSTM as one XLA-compiled loop
            (:class:`~tfs2s.layers.xla_lstm.XlaLSTM`, the same function); off (the
            default, and what configs saved before the key load with): Keras's loop.

    Inputs (dict):
        sequence: float32 (batch, steps, input_dim).
        mask: float32 (batch, steps), 1.0 on real steps.

    Outputs (dict):
        sequence: float32 (batch, steps, width) top-layer outputs, 0 on padded steps.
        state_h: float32 (batch, width) final hidden state (forward and backward joined).
        state_c: float32 (batch, width) final cell state (forward and backward joined).

    ``width`` is ``hidden * 2`` when bidirectional, else ``hidden``.
    """

    def __init__(
        self,
        input_dim: int,
        hidden: int,
        depth: int = 1,
        bidirectional: bool = True,
        dropout: float = 0.0,
        unroll: bool = False,
        recurrent_dropout: float = 0.0,
        layer_norm: bool = False,
        exact_backward_mask: bool = True,
        xla_loops: bool = False,
        **kwargs,
    ):
        if depth < 1:
            raise ValueError(f"SequenceEncoder: depth must be >= 1, found {depth}")
        # === Layers ===
        input_dropout = keras.layers.Dropout(dropout, name="input_dropout")
        rnns = []
        for i in range(depth):
            last = i == depth - 1
            lstm = (XlaLSTM if xla_loops else keras.layers.LSTM)(
                hidden,
                return_sequences=True,
                return_state=last,
                unroll=unroll,
                recurrent_dropout=recurrent_dropout,
                name=f"lstm_{i}",
            )
            if bidirectional:
                lstm = keras.layers.Bidirectional(lstm, name=f"bilstm_{i}")
                if exact_backward_mask:
                    # Bidirectional forces zeroing on; outputs stay in the carried state
                    # (zeros before the first real step, which comes last backwards).
                    lstm.backward_layer.zero_output_for_mask = False
            rnns.append(lstm)

        norm = keras.layers.LayerNormalization(name="layer_norm") if layer_norm else None

        # === Functional Model ===
        sequence = keras.Input((None, input_dim), name="sequence")
        mask = keras.Input((None,), name="mask")
        valid = ops.cast(mask, "bool")
        x = input_dropout(sequence)
        for rnn in rnns[:-1]:
            x = rnn(x, mask=valid)
        x, *states = rnns[-1](x, mask=valid)
        if bidirectional:
            forward_h, forward_c, backward_h, backward_c = states
            state_h = ops.concatenate([forward_h, backward_h], axis=-1)
            state_c = ops.concatenate([forward_c, backward_c], axis=-1)
        else:
            state_h, state_c = states
        if norm is not None:
            x = norm(x)
        outputs = {
            "sequence": zero_padded_steps(x, mask),
            "state_h": state_h,
            "state_c": state_c,
        }
        super().__init__(inputs={"sequence": sequence, "mask": mask}, outputs=outputs, **kwargs)

        # === Config ===
        self.input_dim = input_dim
        self.hidden = hidden
        self.depth = depth
        self.bidirectional = bidirectional
        self.dropout = dropout
        self.unroll = unroll
        self.recurrent_dropout = recurrent_dropout
        self.layer_norm = layer_norm
        self.exact_backward_mask = exact_backward_mask
        self.xla_loops = xla_loops

    @classmethod
    def from_config(cls, config):
        # A config saved before ``exact_backward_mask`` existed was trained without it.
        return cls(**{"exact_backward_mask": False, **config})

    @property
    def width(self) -> int:
        """Feature size of the output sequence and of the final states."""
        return self.hidden * (2 if self.bidirectional else 1)

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "input_dim": self.input_dim,
            "hidden": self.hidden,
            "depth": self.depth,
            "bidirectional": self.bidirectional,
            "dropout": self.dropout,
            "unroll": self.unroll,
            "recurrent_dropout": self.recurrent_dropout,
            "layer_norm": self.layer_norm,
            "exact_backward_mask": self.exact_backward_mask,
            "xla_loops": self.xla_loops,
        }
