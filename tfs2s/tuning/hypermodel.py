"""A keras-tuner ``HyperModel`` that maps hyper-parameters onto the run config.

:class:`TopologyHyperModel` holds no model definition of its own: ``build(hp)`` turns the
trial's values into a :class:`~tfs2s.config.RunConfig` and builds, once, the
:class:`~tfs2s.training.trainer.Trainer` training uses, returning its sentiment model;
``fit(hp, model, epochs=...)`` trains that trainer (every phase, early stopping included)
and returns the valid-split metrics of :func:`~tfs2s.training.metrics.sentiment_metrics` to the
oracle, keys prefixed ``valid_`` (``valid_mae``, ``valid_f1_2``, ...).

Hyperband's budget of the trial (``tuner/epochs``, also given to ``fit`` as ``epochs``) sets
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
from tfs2s.tuning.space import HYPERBAND_EPOCHS, HParam, applicable

#: The trial a promoted Hyperband trial continues (a hyper-parameter of the trial).
PROMOTED_FROM = "tuner/trial_id"

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
        """The trial's sentiment model: builds (once) the trainer that :meth:`fit` trains.

        The trainer is built as training builds it (same seed, same builder) with the
        trial's values and, under Hyperband, the trial's epoch budget (``tuner/epochs``,
        which keras-tuner also passes to :meth:`fit` as ``epochs``).
        """
        from tfs2s.training.run import set_determinism
        from tfs2s.training.trainer import Trainer

        cfg = self.config_for(hp, hp.values.get(HYPERBAND_EPOCHS))
        set_determinism(cfg.train.seed)
        trainer = Trainer(self.topology, cfg.model, cfg.train, self.source, strategy=self.strategy)
        # Only the last build is trained: keras-tuner fits the model it has just built.
        self._built = (trainer.sentiment_model, trainer, cfg)
        return trainer.sentiment_model

    def fit(
        self,
        hp: kt.HyperParameters,
        model: keras.Model,
        *args,
        epochs: int | None = None,
        callbacks=None,
        **kwargs,
    ) -> dict[str, float]:
        """Train the trainer :meth:`build` made for ``model``; the valid metrics.

        Every phase trains (early stopping included) and the metrics of
        :func:`~tfs2s.training.metrics.sentiment_metrics` on the valid split are
        returned to the oracle. keras-tuner's ``callbacks`` (its checkpoint of the best
        epoch and its reporting to the oracle) see the whole trial as one epoch whose
        logs are those metrics, so the trained sentiment model is the trial's checkpoint
        (``tuner.get_best_models()`` loads it).

        Raises:
            TypeError: for positional or keyword arguments other than ``epochs``,
                ``callbacks``, ``verbose`` and Hyperband's ``initial_epoch`` (a trial's
                data and batches come from the run config, not from ``tuner.search``).
            ValueError: if ``model`` is not the model :meth:`build` returned last, or
                ``epochs`` differs from the budget the trainer was built with.
        """
        from tfs2s.training.metrics import sentiment_metrics
        from tfs2s.training.run import predict_split

        kwargs.pop("verbose", None)  # a trial's verbosity is the search's ``verbose``
        # A promoted Hyperband trial trains from scratch (see the module docstring).
        kwargs.pop("initial_epoch", None)
        if args or kwargs:
            raise TypeError(
                f"TopologyHyperModel.fit takes no data or fit arguments (the run config "
                f"holds them), found {len(args)} positional and {sorted(kwargs)}"
            )
        built, trainer, cfg = getattr(self, "_built", (None, None, None))
        if model is not built:
            raise ValueError("TopologyHyperModel.fit: model is not the one build() returned last")
        if epochs is not None and epochs != cfg.train.epochs:
            raise ValueError(
                f"TopologyHyperModel.fit: epochs={epochs} but the trial was built for "
                f"{cfg.train.epochs} (Hyperband's tuner/epochs)"
            )
        del self._built
        if PROMOTED_FROM in hp.values:
            # Hyperband loaded the trial it promotes into ``model``; a two-phase schedule
            # cannot continue from a sentiment-model checkpoint: start from the seed.
            trainer.reinitialize(cfg.train.seed)
        trained = trainer.train(verbose=self.verbose)
        pred = predict_split(
            trained.sentiment_model,
            self.source,
            "valid",
            self.topology.inference_modalities,
            cfg.train.eval_batch_size,
        )
        metrics = sentiment_metrics(self.source.labels("valid"), pred)
        results = {f"valid_{k}": float(v) for k, v in metrics.items() if math.isfinite(v)}
        reporting = keras.callbacks.CallbackList(
            list(callbacks or []), model=trained.sentiment_model
        )
        reporting.on_train_begin()
        reporting.on_epoch_end(max(cfg.train.epochs - 1, 0), results)
        reporting.on_train_end(results)
        return results
