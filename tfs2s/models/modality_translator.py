"""Seq2seq modality translation: encoder chain + decoder, teacher-forced or greedy."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import keras

from tfs2s.models.graph_utils import (
    decoder_inputs,
    denormalize_concat,
    deserialize_part,
    encode_chain,
    serialize_parts,
    standardized_inputs,
    stats_config,
)


@keras.saving.register_keras_serializable(package="tfs2s")
class ModalityTranslator(keras.Model):
    """Translates source modalities into target modalities.

    The standardised, joined sources go through the encoder chain (one encoder for
    ``X -> Y``; two for the hierarchical ``embed(X, Y) -> Z``, the second reading the
    first's outputs); the decoder starts from the last encoder's final state.

    * ``teacher_forcing=True`` (training): the targets are inputs too; the decoder reads
      the true previous frames and ``translation`` is in the *standardised* target scale
      (what the translation loss compares with).
    * ``teacher_forcing=False`` (inference, ``translate``): only sources and mask are
      read; greedy decoding feeds back its own frames and ``translation`` is mapped back
      to the *raw* target feature scale (0 on padded steps).

    Args:
        sources: names of the source modalities.
        targets: names of the target modalities, joined in this order (may share
            modalities with ``sources``, e.g. ``concat(T, A) -> concat(T, V)``).
        norm_stats: name -> ``(mean, variance)`` for every source and target.
        encoders: :class:`SequenceEncoder` chain; the first reads the joined sources.
        decoder: :class:`SequenceDecoder` with ``output_dim`` = joined target dims.
        teacher_forcing: see above.

    Inputs (dict):
        <source>: float32 (batch, steps, dim) raw features.
        <target>: float32 (batch, steps, dim) raw features (teacher forcing only).
        mask: float32 (batch, steps), 1.0 on real words.

    Outputs (dict):
        translation: float32 (batch, steps, joined target dims).
    """

    def __init__(
        self,
        sources: Sequence[str],
        targets: Sequence[str],
        norm_stats: Mapping,
        encoders: Sequence[keras.Model],
        decoder: keras.layers.Layer,
        teacher_forcing: bool = True,
        **kwargs,
    ):
        sources, targets = tuple(sources), tuple(targets)
        stats = stats_config(norm_stats, sources + targets)
        # === Layers ===
        encoders = [deserialize_part(e) for e in encoders]
        decoder = deserialize_part(decoder)
        if not encoders:
            raise ValueError("ModalityTranslator needs at least one encoder")

        # === Functional Model ===
        view = standardized_inputs(sources + targets if teacher_forcing else sources, stats)
        mask = view.mask
        encoded = encode_chain(encoders, view.joined(sources), mask)
        if teacher_forcing:
            translation = decoder(decoder_inputs(encoded, mask, view.joined(targets)))
        else:
            translation = denormalize_concat(
                decoder(decoder_inputs(encoded, mask)), targets, stats, mask
            )
        super().__init__(inputs=view.inputs, outputs={"translation": translation}, **kwargs)

        # === Config ===
        self.sources = sources
        self.targets = targets
        self.norm_stats = stats
        self.encoders = encoders
        self.decoder = decoder
        self.teacher_forcing = teacher_forcing

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "sources": list(self.sources),
            "targets": list(self.targets),
            "norm_stats": self.norm_stats,
            "encoders": serialize_parts(self.encoders),
            "decoder": keras.layers.serialize(self.decoder),
            "teacher_forcing": self.teacher_forcing,
        }
