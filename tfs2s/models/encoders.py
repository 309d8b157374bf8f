"""The encoder contract, and the one table that maps ``model.encoder`` to an encoder.

What the rest of the graph needs from an encoder (today's :class:`SequenceEncoder` is a
stacked bi-LSTM; a GRU or Transformer encoder is one new file plus one entry in
:data:`ENCODERS` and one name in :data:`tfs2s.config.EncoderKind`):

* a ``keras.Model`` registered with ``keras.saving.register_keras_serializable``, whose
  ``get_config`` rebuilds it (artefacts hold the encoder's config);
* inputs ``{"sequence": float32 (batch, steps, input_dim), "mask": float32 (batch,
  steps)}`` with right-padded steps (``mask`` 1.0 on real steps);
* outputs:

  - ``sequence``: float32 (batch, steps, width), 0 on padded steps. The regressor reads
    it, the next encoder of a hierarchical chain reads it, and an attentive decoder
    attends over it (``memory``);
  - ``state_h``, ``state_c``: float32 (batch, width), the initial hidden and cell
    state of the decoder's LSTM (:func:`tfs2s.models.graph_utils.decoder_inputs`). An
    encoder without a cell state gives its summary vector as ``state_h`` and zeros as
    ``state_c``;

* a ``width`` attribute: the feature size of ``sequence`` and of the states (the
  decoder's ``units``).

Dropout rates, ``unroll`` and ``xla_loops`` come from
:class:`~tfs2s.config.ModelConfig`; a builder reads the fields it supports.
"""

from __future__ import annotations

from collections.abc import Callable

import keras

from tfs2s.config import EncoderKind, ModelConfig, choices
from tfs2s.models.sequence_encoder import SequenceEncoder


def _lstm(input_dim: int, cfg: ModelConfig, name: str) -> keras.Model:
    return SequenceEncoder(
        input_dim,
        cfg.hidden,
        cfg.depth,
        cfg.bidirectional,
        cfg.dropout,
        unroll=cfg.unroll,
        recurrent_dropout=cfg.recurrent_dropout,
        layer_norm=cfg.layer_norm,
        xla_loops=cfg.xla_loops,
        name=name,
    )


#: ``model.encoder`` -> builder ``(input_dim, model config, layer name) -> encoder``.
ENCODERS: dict[str, Callable[[int, ModelConfig, str], keras.Model]] = {"lstm": _lstm}
if tuple(ENCODERS) != choices(EncoderKind):
    raise ImportError(f"ENCODERS {list(ENCODERS)} != config EncoderKind {choices(EncoderKind)}")


def build_encoder(input_dim: int, cfg: ModelConfig, name: str) -> keras.Model:
    """The ``cfg.encoder`` encoder of a ``(batch, steps, input_dim)`` sequence."""
    return ENCODERS[cfg.encoder](input_dim, cfg, name)
