"""A keras-tuner ``HyperModel`` that maps hyper-parameters onto the run config.

:class:`TopologyHyperModel` holds no model definition of its own: ``build(hp)`` turns the
trial's values into a :class:`~tfs2s.config.RunConfig` and builds the sentiment model with
the builder training uses (:class:`~tfs2s.models.topology_models.TopologyModels`), and
``fit(hp, model, epochs=...)`` trains that config with
:func:`~tfs2s.training.fit.train_model` (every phase, early stopping included) and returns
the valid-split metrics of :func:`~tfs2s.training.metrics.sentiment_metrics` to the
oracle, keys prefixed ``valid_`` (``valid_mae``, ``valid_f1_2``, ...).

``epochs`` given to ``fit`` by the tuner (Hyperband's budget of the trial) sets
``train.epochs`` and ``train.translator_epochs``: every phase runs at most that many
epochs. A Hyperband trial promoted to a larger budget trains from scratch for the larger
budget (a two-phase schedule cannot be continued from a sentiment-model checkpoint).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import keras
import keras_tuner as kt

from tfs2s.config import METRIC_DIRECTIONS, Objective, RunConfig, choices
from tfs2s.topology import parse_topology
from tfs2s.tuning.space import HParam, applicable

#: ``--objective`` name -> (metric reported to the oracle, direction).
OBJECTIVES: dict[str, tuple[str, str]] = {
    name: (f"valid_{name}", METRIC_DIRECTIONS[name]) for name in choices(Objective)
}


def objective(name: str) -> kt.Objective:
    """The keras-tuner objective of ``--objective name``."""
    if name not in OBJECTIVES:
        raise ValueError(f"--objective: expected one of {list(OBJECTIVES)}, found {name!r}")
    return kt.Objective(*OBJECTIVES[name])


class TopologyHyperModel(kt.HyperModel):
    """Search ``space`` around ``base`` for ``base.topology``.

    Args:
        base: the run config trials start from (topology, data, fixed values).
        source: the loaded data source (needs a non-empty ``valid`` split).
        space: config key -> :class:`HParam`; keys the topology/mode does not read are
            dropped (see :func:`tfs2s.tuning.space.applicable`).
        strategy: distribution strategy each trial trains under (the tuner's
            ``distribution_strategy``).
        verbose: Keras verbosity of each trial's ``fit`` calls.
    """

    def __init__(
        self,
        base: RunConfig,
        source,
        space: Mapping[str, HParam],
        *,
        strategy=None,
        verbose: int | str = 0,
    ):
        super().__init__(name=f"tfs2s_{base.topology}")
        self.base = base
        self.topology = parse_topology(base.topology)
        self.source = source
        self.space = applicable(space, base)
        self.strategy = strategy
        self.verbose = verbose
        source.require(self.topology.training_modalities, f"topology {self.topology.name}")
        if "valid" not in source.nonempty_splits():
            raise ValueError(
                f"the data ({source.source}) has an empty valid split: a search scores its "
                "trials on the valid split"
            )

    def config_for(self, hp: kt.HyperParameters, epochs: int | None = None) -> RunConfig:
        """The run config of a trial: ``base`` with the trial's values (and epoch budget)."""
        overrides = {key: param.declare(hp) for key, param in self.space.items()}
        if epochs is not None:
            overrides["train.epochs"] = epochs
            overrides["train.translator_epochs"] = epochs
        return self.base.replace(**overrides)

    def build(self, hp: kt.HyperParameters) -> keras.Model:
        """The trial's sentiment model, built as training builds it (untrained)."""
        from tfs2s.models.topology_models import TopologyModels

        cfg = self.config_for(hp)
        keras.utils.set_random_seed(cfg.train.seed)
        models = TopologyModels.build(
            self.topology, cfg.model, dict(self.source.dims), self.source.norm_stats()
        )
        return models.sentiment_model()

    def fit(
        self,
        hp: kt.HyperParameters,
        model: keras.Model,
        *args,
        epochs: int | None = None,
        callbacks=None,
        **kwargs,
    ) -> dict[str, float]:
        """Train the trial's config with ``train_model``; the valid metrics for the oracle.

        ``model`` (from :meth:`build`) only gives keras-tuner a model to checkpoint:
        ``train_model`` builds and trains its own, and the trained sentiment model is
        reported to the tuner's ``callbacks`` as the trial's last epoch, which saves it
        as the trial's checkpoint (``tuner.get_best_models()`` loads it).
        """
        from tfs2s.training.fit import train_model
        from tfs2s.training.metrics import sentiment_metrics
        from tfs2s.training.run import predict_split, set_determinism

        cfg = self.config_for(hp, epochs)
        set_determinism(cfg.train.seed)
        trained = train_model(
            self.topology,
            cfg.model,
            cfg.train,
            self.source,
            strategy=self.strategy,
            verbose=self.verbose,
        )
        pred = predict_split(
            trained.sentiment_model,
            self.source,
            "valid",
            self.topology.inference_modalities,
            cfg.train.eval_batch_size,
        )
        metrics = sentiment_metrics(self.source.labels("valid"), pred)
        results = {f"valid_{k}": float(v) for k, v in metrics.items() if math.isfinite(v)}
        last_epoch = max(cfg.train.epochs - 1, 0)
        reporting = keras.callbacks.CallbackList(
            list(callbacks or []), model=trained.sentiment_model
        )
        reporting.on_epoch_end(last_epoch, results)
        return results
