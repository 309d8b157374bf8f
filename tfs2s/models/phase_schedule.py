"""Each topology kind's training schedule, beside the parts it trains.

A schedule is a list of :class:`Phase`: one ``fit`` of one functional view of
:class:`~tfs2s.models.topology_models.TopologyModels`, with the parts it updates (the
others are frozen), its epoch budget, the modalities it reads and the modalities whose
standardised join each translation output is compared with.
:class:`~tfs2s.training.trainer.Trainer` compiles and runs the phases in order.

* seq2seq ``X_Y`` (``train.mode=two_phase``, Algorithm 1): ``translation`` trains the
  encoder and decoder with teacher forcing; ``regression`` trains the regressor on the
  encoder's output sequence, the encoder frozen unless ``train.finetune_encoder``. With
  ``cache_representation`` (frozen encoders that draw no random numbers) that phase
  fits the regressor alone on the representation, computed once per split instead of
  once per batch and epoch: the same function of the same batches, without re-running
  the frozen encoders (a third to a half of each regression epoch).
* hierarchical ``embed_XY_Z`` (two_phase, Algorithm 2): ``translation_1`` (X -> Y) trains
  encoder 1 and decoder 1; ``translation_2`` (X -> Z through both encoders) trains
  encoder 2 and decoder 2, encoder 1 frozen (with ``cache_representation``, on encoder
  1's output computed once per split, as the regression phase does); then
  ``regression``.
* seq2seq and hierarchical, ``train.mode=joint`` (MCTN): one ``joint`` phase updates
  every part on ``MAE + translation_weight * MSE(translations) + cycle_weight *
  MSE(back-translation to the sources)``.
* baselines (either mode): one ``regression`` phase.
"""

from __future__ import annotations

import dataclasses

import keras

from tfs2s import modalities as M
from tfs2s.config import TrainConfig


@dataclasses.dataclass
class Phase:
    """One ``fit`` call of a schedule.

    Attributes:
        name: ``translation``, ``translation_<i>``, ``regression`` or ``joint``.
        model: the functional view trained (uncompiled here).
        trainable: the parts it updates; every other part is frozen.
        epochs: the epoch budget.
        modalities: the modalities it reads (its inputs besides ``mask``).
        targets: translation output name -> the modalities whose standardised join is
            its target (empty for ``regression``).
        loss_weights: output name -> loss weight (``None``: Keras' default, all 1).
        representation: when set, this frozen view (``{sources..., mask} ->
            {"sequence"}``) computes the input sequence of ``model`` once per split, and
            the phase's batches hold that sequence instead of the sources: ``model`` is
            then the regressor alone
            (:meth:`~tfs2s.models.topology_models.TopologyModels.regressor_model`) or a
            later translation stage on the earlier encoders' output
            (:meth:`~tfs2s.models.topology_models.TopologyModels.stage_translation_model`).
    """

    name: str
    model: keras.Model
    trainable: list[keras.layers.Layer]
    epochs: int
    modalities: tuple[str, ...]
    targets: dict[str, tuple[str, ...]] = dataclasses.field(default_factory=dict)
    loss_weights: dict[str, float] | None = None
    representation: keras.Model | None = None

    @property
    def regresses(self) -> bool:
        """Whether the phase has the ``sentiment`` output (a sentiment metric applies)."""
        return "sentiment" in self.model.output


def phase_schedule(models, cfg: TrainConfig, cache_representation: bool = False) -> list[Phase]:
    """The phases of ``models.topology`` under ``cfg.mode``, in training order.

    Args:
        models: the topology's :class:`~tfs2s.models.topology_models.TopologyModels`.
        cfg: epochs, mode, loss weights and ``finetune_encoder``.
        cache_representation: a two-phase regression phase with frozen encoders trains
            the regressor on their output computed once, and a later translation stage
            its encoder and decoder on the frozen earlier encoders' output computed once
            (:attr:`Phase.representation`).
            Only valid when the frozen encoders give the same output in training as in
            inference (no dropout) and the batches are not altered per step (no
            modality dropout); the trainer decides.
    """
    if cfg.mode == "joint" and not models.topology.is_baseline:
        return [_joint(models, cfg)]
    cached = cache_representation and models.encoders and not cfg.finetune_encoder
    regression = Phase(
        "regression",
        models.regressor_model() if cached else models.sentiment_model(),
        trainable=[models.regressor] + (list(models.encoders) if cfg.finetune_encoder else []),
        epochs=cfg.epochs,
        modalities=models.sources,
        representation=models.representation_model() if cached else None,
    )
    if models.topology.is_baseline:
        return [regression]
    return _translation_stages(models, cfg, cache_representation) + [regression]


def _translation_stages(models, cfg: TrainConfig, cache_representation: bool) -> list[Phase]:
    """Algorithms 1 and 2: one teacher-forced translation phase per encoder.

    With ``cache_representation``, a later stage (whose earlier encoders are frozen)
    trains on their output computed once per split.
    """
    stages = models.stage_targets

    def stage_phase(stage: int, targets: tuple[str, ...]) -> Phase:
        cached = cache_representation and stage > 0
        return Phase(
            "translation" if len(stages) == 1 else f"translation_{stage + 1}",
            models.stage_translation_model(stage) if cached else models.translation_model(stage),
            trainable=[models.encoders[stage], models.decoders[stage]],
            epochs=cfg.translator_epochs,
            modalities=union(models.sources, targets),
            targets={"translation": targets},
            representation=models.encoding_model(stage) if cached else None,
        )

    return [stage_phase(stage, targets) for stage, targets in enumerate(stages)]


def _joint(models, cfg: TrainConfig) -> Phase:
    model = models.joint_model()
    weights = {
        "sentiment": 1.0,
        "translation": cfg.translation_weight,
        "intermediate": cfg.translation_weight,
        "cycle": cfg.cycle_weight,
    }
    targets = {
        "translation": models.stage_targets[-1],
        "intermediate": models.stage_targets[0],
        "cycle": models.sources,
    }
    return Phase(
        "joint",
        model,
        trainable=models.parts,
        epochs=cfg.epochs,
        modalities=models.topology.training_modalities,
        targets={name: names for name, names in targets.items() if name in model.output},
        loss_weights={name: weights[name] for name in model.output},
    )


def union(*groups) -> tuple[str, ...]:
    """Modality names of ``groups`` in canonical order, once each."""
    names = {n for group in groups for n in group}
    return tuple(M.NAMES[c] for c in M.CODES if M.NAMES[c] in names)
