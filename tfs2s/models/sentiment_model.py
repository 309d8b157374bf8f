"""The servable sentiment model: raw modalities in, sentiment out."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import keras

from tfs2s.models.graph_utils import (
    deserialize_part,
    encode_chain,
    regressor_sequence,
    serialize_parts,
    standardized_inputs,
    stats_config,
)


@keras.saving.register_keras_serializable(package="tfs2s")
class SentimentModel(keras.Model):
    """Standardise and join modalities, encode (optionally), regress sentiment.

    With no encoder this is the poster's LSTM baseline over ``concat(modalities)``; with
    one it is Algorithm 1's ``RNN(Seq2Seq_RNN_Encode(X))``; with two chained encoders
    Algorithm 2's ``RNN(Encode_XYZ(Encode_XY(X)))``. Only the source modalities are read.

    Args:
        modalities: names of the modalities read, e.g. ``("audio",)``.
        norm_stats: name -> ``(mean (dim,), variance (dim,))`` train statistics.
        regressor: a :class:`SentimentRegressor` whose ``input_dim`` matches the
            representation (last encoder width, or the concatenated modality dims).
        encoders: :class:`SequenceEncoder` chain applied before the regressor.
        source_skip: the regressor also reads the standardised sources beside the last
            encoder's output (``model.source_skip``); no effect without encoders.

    Inputs (dict):
        <modality>: float32 (batch, steps, dim) raw features, for each of ``modalities``.
        mask: float32 (batch, steps), 1.0 on real words.

    Outputs (dict):
        sentiment: float32 (batch,) predicted sentiment.
        attention: float32 (batch, steps) the regressor's soft-attention weights over the
            steps: 0 on padding, summing to 1 over the real steps. No loss is attached
            to it; ``model.predict(inputs)["attention"]`` is what ``tfs2s explain`` reads.
    """

    def __init__(
        self,
        modalities: Sequence[str],
        norm_stats: Mapping,
        regressor: keras.Model,
        encoders: Sequence[keras.Model] = (),
        source_skip: bool = False,
        **kwargs,
    ):
        modalities = tuple(modalities)
        stats = stats_config(norm_stats, modalities)
        # === Layers ===
        regressor = deserialize_part(regressor)
        encoders = [deserialize_part(e) for e in encoders]

        # === Functional Model ===
        view = standardized_inputs(modalities, stats)
        mask = view.mask
        sources = view.joined(modalities)
        representation = encode_chain(encoders, sources, mask)["sequence"]
        representation = regressor_sequence(representation, sources, source_skip)
        head = regressor({"sequence": representation, "mask": mask})
        super().__init__(
            inputs=view.inputs,
            outputs={"sentiment": head["sentiment"], "attention": head["attention"]},
            **kwargs,
        )

        # === Config ===
        self.modalities = modalities
        self.norm_stats = stats
        self.regressor = regressor
        self.encoders = encoders
        self.source_skip = bool(source_skip)

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "modalities": list(self.modalities),
            "norm_stats": self.norm_stats,
            "regressor": keras.layers.serialize(self.regressor),
            "encoders": serialize_parts(self.encoders),
            "source_skip": self.source_skip,
        }
