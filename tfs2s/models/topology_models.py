"""All the parts of one topology and the functional views that training and serving use."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import keras

from tfs2s import modalities as M
from tfs2s.config import ModelConfig
from tfs2s.models.encoders import build_encoder
from tfs2s.models.graph_utils import (
    StatsConfig,
    decoder_inputs,
    encode_chain,
    feature_dim,
    regressor_sequence,
    regressor_width,
    standardized_inputs,
    stats_config,
)
from tfs2s.models.modality_translator import ModalityTranslator
from tfs2s.models.sentiment_model import SentimentModel
from tfs2s.models.sentiment_regressor import SentimentRegressor
from tfs2s.models.sequence_decoder import SequenceDecoder
from tfs2s.models.sequence_encoder import SequenceEncoder
from tfs2s.topology import Topology


def _names(codes) -> tuple[str, ...]:
    return tuple(M.name_of(c) for c in codes)


def stage_targets_of(topology: Topology) -> list[tuple[str, ...]]:
    """Per translation stage, the modality names it decodes (baseline: none)."""
    if topology.kind == "hierarchical":
        return [_names(topology.intermediate), _names(topology.target)]
    if topology.kind == "seq2seq":
        return [_names(topology.target)]
    return []


def _checked_stats(topology: Topology, dims: Mapping[str, int], norm_stats: Mapping):
    """The statistics of every training modality, checked against the data's dims."""
    stats = stats_config(norm_stats, topology.training_modalities)
    for name in topology.training_modalities:
        found = len(stats[name]["mean"])
        if name not in dims or dims[name] != found:
            raise ValueError(
                f"topology {topology.name}: modality {name!r} has dim {dims.get(name)} in "
                f"the data but {found} in its normalisation statistics"
            )
    return stats


def _decoder(width: int, output_dim: int, cfg: ModelConfig, name: str) -> SequenceDecoder:
    """A decoder of ``output_dim`` frames started from a ``width``-wide encoder state,
    built now so that its weights are created in the parts' fixed order."""
    part = SequenceDecoder(
        width,
        output_dim,
        cfg.decoder_attention,
        unroll=cfg.unroll,
        dropout=cfg.dropout,
        recurrent_dropout=cfg.recurrent_dropout,
        xla_loops=cfg.xla_loops,
        name=name,
    )
    state = (None, width)
    part.build(
        {
            "memory": (None, None, width),
            "memory_mask": (None, None),
            "state_h": state,
            "state_c": state,
        }
    )
    return part


@dataclasses.dataclass
class TopologyModels:
    """The trainable parts of one topology, built once, and views over them.

    Every view (:meth:`sentiment_model`, :meth:`translation_model`, :meth:`translator`,
    :meth:`joint_model`) is a functional model over the *same* part objects, so training
    one view trains the others. Views are built on first use and cached.

    Attributes:
        topology: the parsed topology.
        model_cfg: sizes.
        norm_stats: JSON-friendly statistics of every training modality.
        sources: modality names the sentiment model reads.
        stage_targets: per translation stage, the target names it decodes
            (seq2seq: ``[targets]``; ``embed_XY_Z``: ``[(Y,), (Z,)]``; baseline: ``[]``).
        encoders: one :class:`SequenceEncoder` per stage; stage ``i`` reads stage
            ``i - 1``'s output sequence.
        decoders: one :class:`SequenceDecoder` per stage.
        regressor: the :class:`SentimentRegressor` head.
        cycle_encoder, cycle_decoder: back-translation parts (final target -> sources),
            present only when built with ``cycle=True``.
    """

    topology: Topology
    model_cfg: ModelConfig
    norm_stats: StatsConfig
    sources: tuple[str, ...]
    stage_targets: list[tuple[str, ...]]
    encoders: list[SequenceEncoder]
    decoders: list[SequenceDecoder]
    regressor: SentimentRegressor
    cycle_encoder: SequenceEncoder | None = None
    cycle_decoder: SequenceDecoder | None = None
    _views: dict = dataclasses.field(default_factory=dict, repr=False)

    @classmethod
    def build(
        cls,
        topology: Topology,
        model_cfg: ModelConfig,
        dims: Mapping[str, int],
        norm_stats: Mapping,
        cycle: bool = False,
    ) -> TopologyModels:
        """Create every part (weights included) in a fixed order.

        The same seed (``keras.utils.set_random_seed``) before two calls gives the same
        initial weights, which :meth:`copy_weights_from` relies on.

        Args:
            topology: parsed topology.
            model_cfg: sizes; every field is used (a baseline has no encoder: the
                encoder fields are not read, see :func:`tfs2s.config.unread_keys`).
            dims: modality name -> feature size (checked against ``norm_stats``).
            norm_stats: name -> ``(mean (dim,), variance (dim,))`` train statistics of
                every training modality.
            cycle: also build the back-translation parts used by the joint cycle loss.
        """
        stats = _checked_stats(topology, dims, norm_stats)
        if cycle and topology.is_baseline:
            raise ValueError(f"topology {topology.name}: a baseline has no cycle translation")
        sources = topology.inference_modalities
        stage_targets = stage_targets_of(topology)
        encoders, decoders = [], []
        width = feature_dim(stats, sources)
        for i, targets in enumerate(stage_targets, start=1):
            encoders.append(build_encoder(width, model_cfg, f"encoder_{i}"))
            width = encoders[-1].width
            decoders.append(_decoder(width, feature_dim(stats, targets), model_cfg, f"decoder_{i}"))
        regressor = SentimentRegressor(
            regressor_width(
                width, feature_dim(stats, sources), model_cfg.source_skip, len(encoders)
            ),
            model_cfg.regressor_hidden,
            model_cfg.regressor_depth,
            model_cfg.dropout,
            unroll=model_cfg.unroll,
            recurrent_dropout=model_cfg.recurrent_dropout,
            layer_norm=model_cfg.layer_norm,
            xla_loops=model_cfg.xla_loops,
            name="regressor",
        )
        cycle_encoder = cycle_decoder = None
        if cycle:
            cycle_encoder = build_encoder(
                feature_dim(stats, stage_targets[-1]), model_cfg, "cycle_encoder"
            )
            cycle_decoder = _decoder(
                cycle_encoder.width, feature_dim(stats, sources), model_cfg, "cycle_decoder"
            )
        return cls(
            topology,
            model_cfg,
            stats,
            sources,
            stage_targets,
            encoders,
            decoders,
            regressor,
            cycle_encoder,
            cycle_decoder,
        )

    @property
    def parts(self) -> list[keras.layers.Layer]:
        """Every part with weights, in creation order."""
        cycle = [p for p in (self.cycle_encoder, self.cycle_decoder) if p is not None]
        return [*self.encoders, *self.decoders, self.regressor, *cycle]

    def copy_weights_from(self, other: TopologyModels) -> None:
        """Assign every variable (dropout RNG state included) of ``other``'s parts.

        ``other`` must have been built from the same topology and configs. This
        re-initialises already-compiled views without retracing them.
        """
        for mine, theirs in zip(self.parts, other.parts, strict=True):
            for target, source in zip(mine.variables, theirs.variables, strict=True):
                target.assign(source)

    def _view(self, key, build):
        if key not in self._views:
            self._views[key] = build()
        return self._views[key]

    def sentiment_model(self) -> SentimentModel:
        """``{sources..., mask} -> {"sentiment": (batch,)}``: the servable model."""
        return self._view(
            "sentiment",
            lambda: SentimentModel(
                self.sources,
                self.norm_stats,
                self.regressor,
                self.encoders,
                source_skip=self.model_cfg.source_skip,
                name=f"{self.topology.name}_sentiment",
            ),
        )

    def representation_model(self) -> keras.Model:
        """``{sources..., mask} -> {"sequence"}``: the sequence the regressor reads (the
        encoders' output, the standardised sources beside it with ``source_skip``).

        A two-phase regression phase with frozen encoders computes it once per split
        and trains the regressor alone on it (see
        :func:`~tfs2s.models.phase_schedule.phase_schedule`).
        """
        return self._view("representation", self._build_representation)

    def _build_representation(self) -> keras.Model:
        view = standardized_inputs(self.sources, self.norm_stats)
        sources = view.joined(self.sources)
        encoded = encode_chain(self.encoders, sources, view.mask)["sequence"]
        sequence = regressor_sequence(encoded, sources, self.model_cfg.source_skip)
        return keras.Model(
            view.inputs, {"sequence": sequence}, name=f"{self.topology.name}_representation"
        )

    def regressor_model(self) -> keras.Model:
        """``{"sequence", "mask"} -> {"sentiment", "attention"}``: the regressor alone, on
        :meth:`representation_model`'s sequence (what a regression phase with frozen
        encoders trains).

        A view, not the part itself: compiling the part would save its compile config
        (and its loss function's registered name) inside every model that holds it.
        """
        return self._view("regressor", self._build_regressor_model)

    def _build_regressor_model(self) -> keras.Model:
        width = self.regressor.input_dim
        inputs = {
            "sequence": keras.Input((None, width), name="sequence"),
            "mask": keras.Input((None,), name="mask"),
        }
        return keras.Model(inputs, self.regressor(inputs), name=f"{self.topology.name}_regressor")

    def encoding_model(self, depth: int) -> keras.Model:
        """``{sources..., mask} -> {"sequence"}``: the output sequence of the first
        ``depth`` encoders (what encoder ``depth`` reads).

        A two-phase translation stage whose earlier encoders are frozen computes it once
        per split and trains on it (:meth:`stage_translation_model`; see
        :func:`~tfs2s.models.phase_schedule.phase_schedule`).
        """
        return self._view(("encoding", depth), lambda: self._build_encoding(depth))

    def _build_encoding(self, depth: int) -> keras.Model:
        if not 0 < depth < len(self.encoders):
            raise ValueError(
                f"topology {self.topology.name}: encoding depth must be in "
                f"[1, {len(self.encoders) - 1}], found {depth}"
            )
        view = standardized_inputs(self.sources, self.norm_stats)
        encoded = encode_chain(self.encoders[:depth], view.joined(self.sources), view.mask)
        return keras.Model(
            view.inputs,
            {"sequence": encoded["sequence"]},
            name=f"{self.topology.name}_encoding_{depth}",
        )

    def stage_translation_model(self, stage: int) -> keras.Model:
        """Teacher-forced translator of ``stage`` (>= 1) on :meth:`encoding_model`
        ``(stage)``'s sequence: ``{"sequence", "mask", targets...} -> {"translation"}``.

        The same function of the same parts as :meth:`translation_model` ``(stage)``
        without the frozen encoders before ``stage``, whose output it reads.
        """
        return self._view(
            ("stage_translation", stage), lambda: self._build_stage_translation(stage)
        )

    def _build_stage_translation(self, stage: int) -> keras.Model:
        targets = self.stage_targets[stage]
        view = standardized_inputs(targets, self.norm_stats)
        width = self.encoders[stage - 1].width
        inputs = {"sequence": keras.Input((None, width), name="sequence"), **view.inputs}
        encoded = self.encoders[stage]({"sequence": inputs["sequence"], "mask": view.mask})
        translation = self.decoders[stage](decoder_inputs(encoded, view.mask, view.joined(targets)))
        return keras.Model(
            inputs,
            {"translation": translation},
            name=f"{self.topology.name}_translation_{stage + 1}_on_encoding",
        )

    def translation_model(self, stage: int) -> ModalityTranslator:
        """Teacher-forced translator of ``stage`` (0-based): sources -> stage targets.

        Stage ``i`` runs encoders ``0..i``; for ``embed_XY_Z`` stage 1 reads X and
        decodes Z through both encoders (Algorithm 2, phase 2).
        """
        return self._view(
            ("translation", stage),
            lambda: ModalityTranslator(
                self.sources,
                self.stage_targets[stage],
                self.norm_stats,
                self.encoders[: stage + 1],
                self.decoders[stage],
                teacher_forcing=True,
                name=f"{self.topology.name}_translation_{stage + 1}",
            ),
        )

    def translator(self) -> ModalityTranslator:
        """Greedy translator of the whole chain: ``{sources..., mask} -> {"translation"}``."""
        return self._view(
            "translator",
            lambda: ModalityTranslator(
                self.sources,
                self.stage_targets[-1],
                self.norm_stats,
                self.encoders,
                self.decoders[-1],
                teacher_forcing=False,
                name=f"{self.topology.name}_translator",
            ),
        )

    def joint_model(self) -> keras.Model:
        """One graph for joint training (translation and regression at once).

        Inputs: every training modality and ``mask``. Outputs: ``sentiment`` (batch,);
        ``translation`` (batch, steps, final target dims) and, for ``embed_XY_Z``,
        ``intermediate`` (batch, steps, Y dims), both teacher-forced and standardised;
        with cycle parts, ``cycle`` (batch, steps, source dims): the teacher-forced
        ``translation`` translated back to the standardised sources.
        """
        return self._view("joint", self._build_joint)

    def _build_joint(self) -> keras.Model:
        if self.topology.is_baseline:
            raise ValueError(f"topology {self.topology.name}: a baseline has no joint model")
        view = standardized_inputs(self.topology.training_modalities, self.norm_stats)
        mask = view.mask
        sources = view.joined(self.sources)
        translations = []
        encoded = {"sequence": sources}
        for encoder, decoder, targets in zip(
            self.encoders, self.decoders, self.stage_targets, strict=True
        ):
            encoded = encode_chain([encoder], encoded["sequence"], mask)
            translations.append(decoder(decoder_inputs(encoded, mask, view.joined(targets))))
        representation = regressor_sequence(
            encoded["sequence"], sources, self.model_cfg.source_skip
        )
        outputs = {
            "sentiment": self.regressor({"sequence": representation, "mask": mask})["sentiment"],
            "translation": translations[-1],
        }
        if len(translations) > 1:
            outputs["intermediate"] = translations[0]
        if self.cycle_encoder is not None:
            back = encode_chain([self.cycle_encoder], translations[-1], mask)
            outputs["cycle"] = self.cycle_decoder(decoder_inputs(back, mask, sources))
        return keras.Model(view.inputs, outputs, name=f"{self.topology.name}_joint")
