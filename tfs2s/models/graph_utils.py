"""The graph wiring every functional view shares, written once.

* :func:`standardized_inputs`: the prologue "named inputs -> standardise -> join";
* :func:`encode_chain`: encoders one after the other;
* :func:`decoder_inputs`: what a decoder reads of an encoder (see
  :mod:`tfs2s.models.encoders` for the encoder contract).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

import keras
import numpy as np

from tfs2s import modalities as M
from tfs2s.layers.masked_normalization import MaskedNormalization

#: modality name -> {"mean": [dim floats], "variance": [dim floats]} (JSON-friendly).
StatsConfig = dict[str, dict[str, list[float]]]


def stats_config(norm_stats: Mapping, names: Sequence[str]) -> StatsConfig:
    """Normalise ``norm_stats`` for ``names`` to a JSON-friendly config.

    Args:
        norm_stats: modality name -> ``(mean (dim,), variance (dim,))`` or
            ``{"mean": ..., "variance": ...}``.
        names: modality names that must be present.

    Returns:
        name -> ``{"mean": [float], "variance": [float]}`` for ``names`` only.
    """
    out: StatsConfig = {}
    for name in names:
        if name not in norm_stats:
            raise ValueError(
                f"normalisation statistics missing for modality {name!r}; found "
                f"{sorted(norm_stats)}"
            )
        stats = norm_stats[name]
        mean, variance = (stats["mean"], stats["variance"]) if isinstance(stats, Mapping) else stats
        mean = np.asarray(mean, np.float64).reshape(-1)
        variance = np.asarray(variance, np.float64).reshape(-1)
        if mean.shape != variance.shape:
            raise ValueError(
                f"normalisation statistics of {name!r}: mean has shape {mean.shape}, "
                f"variance {variance.shape}"
            )
        out[name] = {"mean": mean.tolist(), "variance": variance.tolist()}
    return out


def feature_dim(stats: StatsConfig, names: Sequence[str]) -> int:
    """Total feature size of ``names`` concatenated."""
    return sum(len(stats[name]["mean"]) for name in names)


def modality_inputs(names: Sequence[str], stats: StatsConfig) -> dict[str, keras.KerasTensor]:
    """Named inputs ``{name: (batch, steps, dim)}`` plus ``"mask"`` (batch, steps).

    A name listed twice (e.g. ``text`` as source and target) gives one input.
    """
    inputs = {
        name: keras.Input((None, len(stats[name]["mean"])), name=name)
        for name in dict.fromkeys(names)
    }
    inputs[M.MASK] = keras.Input((None,), name=M.MASK)
    return inputs


def normalize_inputs(inputs: Mapping, stats: StatsConfig) -> dict:
    """Standardise every modality of ``inputs`` that has statistics, once each.

    Returns:
        name -> float32 (batch, steps, dim), 0 on padded steps.
    """
    return {
        name: MaskedNormalization(**stats[name], name=f"normalize_{name}")(
            tensor, step_mask=inputs[M.MASK]
        )
        for name, tensor in inputs.items()
        if name in stats
    }


@dataclasses.dataclass
class StandardizedInputs:
    """Named raw inputs of a view and their standardised features.

    Attributes:
        inputs: ``{name: keras.Input (batch, steps, dim)}`` plus ``"mask"`` (batch, steps).
        features: name -> standardised float32 (batch, steps, dim), 0 on padded steps.
    """

    inputs: dict[str, keras.KerasTensor]
    features: dict

    @property
    def mask(self) -> keras.KerasTensor:
        """float32 (batch, steps), 1.0 on real words."""
        return self.inputs[M.MASK]

    def joined(self, names: Sequence[str]):
        """The standardised modalities ``names`` joined along the feature axis."""
        return join(self.features, names)


def standardized_inputs(names: Sequence[str], stats: StatsConfig) -> StandardizedInputs:
    """The prologue of every view: one input per modality of ``names`` (and the mask),
    each standardised with its train statistics."""
    inputs = modality_inputs(names, stats)
    return StandardizedInputs(inputs, normalize_inputs(inputs, stats))


def join(features: Mapping, names: Sequence[str]):
    """Join the modalities ``names`` of ``features`` along the feature axis, in order.

    Returns:
        float32 (batch, steps, sum of dims).
    """
    if len(names) == 1:
        return features[names[0]]
    return keras.layers.Concatenate(name="concat_" + "_".join(names))([features[n] for n in names])


def denormalize_concat(frames, names: Sequence[str], stats: StatsConfig, mask):
    """Map standardised concatenated frames of ``names`` back to their raw scale."""
    mean = [v for name in names for v in stats[name]["mean"]]
    variance = [v for name in names for v in stats[name]["variance"]]
    return MaskedNormalization(mean, variance, invert=True, name="denormalize")(
        frames, step_mask=mask
    )


def encode_chain(encoders: Sequence[keras.Model], sequence, mask) -> dict:
    """Run encoders one after the other, each reading the previous output sequence.

    Returns:
        the last encoder's outputs ``{"sequence", "state_h", "state_c"}``; with no
        encoder, ``{"sequence": sequence}``.
    """
    outputs = {"sequence": sequence}
    for encoder in encoders:
        outputs = encoder({"sequence": outputs["sequence"], "mask": mask})
    return outputs


def decoder_inputs(encoded: Mapping, mask, target=None) -> dict:
    """The input dict of a :class:`~tfs2s.models.sequence_decoder.SequenceDecoder`.

    Args:
        encoded: an encoder's outputs (the contract of :mod:`tfs2s.models.encoders`).
        mask: float32 (batch, steps), 1.0 on real steps of the encoded sequence.
        target: standardised float32 (batch, steps, dims) true frames for teacher
            forcing; ``None`` for greedy decoding.
    """
    inputs = {
        "memory": encoded["sequence"],
        "memory_mask": mask,
        "state_h": encoded["state_h"],
        "state_c": encoded["state_c"],
    }
    if target is not None:
        inputs["target"] = target
    return inputs


def serialize_parts(parts: Sequence[keras.layers.Layer]) -> list[dict]:
    return [keras.layers.serialize(part) for part in parts]


def deserialize_part(config):
    """Deserialise a part stored by ``get_config`` (already-built objects pass through)."""
    return keras.layers.deserialize(config) if isinstance(config, dict) else config


def regressor_sequence(encoded, sources, source_skip: bool):
    """What the sentiment regressor reads.

    Args:
        encoded: float32 (batch, steps, width) the last encoder's output sequence (the
            joined sources themselves for a baseline).
        sources: float32 (batch, steps, source dims) the standardised, joined sources.
        source_skip: also read ``sources`` beside ``encoded`` (``model.source_skip``).

    Returns:
        float32 (batch, steps, width [+ source dims]).
    """
    if not source_skip or encoded is sources:
        return encoded
    return keras.layers.Concatenate(name="source_skip")([encoded, sources])


def regressor_width(encoded_width: int, source_width: int, source_skip: bool, encoders: int) -> int:
    """Input width of the regressor for :func:`regressor_sequence`."""
    return encoded_width + (source_width if source_skip and encoders else 0)
