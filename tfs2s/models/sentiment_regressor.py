"""The poster's regressor: K-layer LSTM, masked soft attention, linear output."""

from __future__ import annotations

import keras
from keras import ops

from tfs2s.layers.masked_attention_pooling import MaskedAttentionPooling
from tfs2s.layers.masking import zero_padded_steps
from tfs2s.layers.xla_lstm import XlaLSTM


@keras.saving.register_keras_serializable(package="tfs2s")
class SentimentRegressor(keras.Model):
    """Regresses a sentiment score from a representation sequence.

    ``depth`` stacked forward LSTMs read the sequence, soft attention pools their top
    outputs over the real steps (``A = H^K alpha``) and a linear layer gives the score.

    Args:
        input_dim: feature size of the representation sequence.
        hidden: units of each LSTM layer.
        depth: K, stacked LSTM layers.
        dropout: dropout rate on the input sequence (training only).
        unroll: unroll the LSTMs over the steps (needs a static step count when called).
        recurrent_dropout: dropout rate on the LSTMs' recurrent state (training only).
        layer_norm: layer-normalise the top LSTM's outputs before attention.
        xla_loops: when not unrolled, run each LSTM as one XLA-compiled loop
            (:class:`~tfs2s.layers.xla_lstm.XlaLSTM`, the same function); off (the
            default, and what configs saved before the key load with): Keras's loop.

    Inputs (dict):
        sequence: float32 (batch, steps, input_dim), 0 on padded steps.
        mask: float32 (batch, steps), 1.0 on real steps.

    Outputs (dict):
        sentiment: float32 (batch,) predicted sentiment.
        attention: float32 (batch, steps) soft-attention weight ``alpha`` of each step,
            summing to 1 over the real steps and exactly 0 on padded steps (what
            ``tfs2s explain`` shows). It carries no loss: training passes a loss for
            ``sentiment`` only.
    """

    def __init__(
        self,
        input_dim: int,
        hidden: int,
        depth: int = 1,
        dropout: float = 0.0,
        unroll: bool = False,
        recurrent_dropout: float = 0.0,
        layer_norm: bool = False,
        xla_loops: bool = False,
        **kwargs,
    ):
        if depth < 1:
            raise ValueError(f"SentimentRegressor: depth must be >= 1, found {depth}")
        # === Layers ===
        input_dropout = keras.layers.Dropout(dropout, name="input_dropout")
        rnns = [
            (XlaLSTM if xla_loops else keras.layers.LSTM)(
                hidden,
                return_sequences=True,
                unroll=unroll,
                recurrent_dropout=recurrent_dropout,
                name=f"lstm_{i}",
            )
            for i in range(depth)
        ]
        norm = keras.layers.LayerNormalization(name="layer_norm") if layer_norm else None
        attention = MaskedAttentionPooling(name="attention")
        score = keras.layers.Dense(1, name="score")

        # === Functional Model ===
        sequence = keras.Input((None, input_dim), name="sequence")
        mask = keras.Input((None,), name="mask")
        x = input_dropout(sequence)
        for rnn in rnns:
            # No step mask: sequences are right padded, so a forward LSTM's outputs at
            # real steps never see a padded step, and attention gives padded steps no
            # weight. Unmasked LSTM steps are about a quarter cheaper.
            x = rnn(x)
        if norm is not None:
            x = norm(x)
        pooled, weights = attention(zero_padded_steps(x, mask), step_mask=mask, return_weights=True)
        sentiment = ops.squeeze(score(pooled), -1)
        super().__init__(
            inputs={"sequence": sequence, "mask": mask},
            outputs={"sentiment": sentiment, "attention": weights},
            **kwargs,
        )

        # === Config ===
        self.input_dim = input_dim
        self.hidden = hidden
        self.depth = depth
        self.dropout = dropout
        self.unroll = unroll
        self.recurrent_dropout = recurrent_dropout
        self.layer_norm = layer_norm
        self.xla_loops = xla_loops

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "input_dim": self.input_dim,
            "hidden": self.hidden,
            "depth": self.depth,
            "dropout": self.dropout,
            "unroll": self.unroll,
            "recurrent_dropout": self.recurrent_dropout,
            "layer_norm": self.layer_norm,
            "xla_loops": self.xla_loops,
        }
