"""Train a topology in one call: :func:`train_model`.

The pieces live one idea per module:

* :mod:`tfs2s.models.phase_schedule`: each topology kind's phases (the poster's
  Algorithms 1 and 2, joint training, baselines), beside the parts they train;
* :mod:`tfs2s.training.trainer`: :class:`Trainer` compiles and runs a schedule and
  re-initialises in place for the next seed (the CLI's run and the paper runner use it
  directly, to train several seeds without re-tracing);
* :mod:`tfs2s.training.phase_data`: the batches each phase reads;
* :mod:`tfs2s.training.trained_model`: :class:`TrainedModel` and its files.

:func:`train_model` builds a :class:`Trainer` and trains it once; the names above are
importable from here too.
"""

from __future__ import annotations

import tensorflow as tf

from tfs2s.config import ModelConfig, TrainConfig
from tfs2s.data.pipeline import DataSource
from tfs2s.topology import Topology
from tfs2s.training.trained_model import (
    METADATA_FILE,
    SENTIMENT_FILE,
    TRANSLATOR_FILE,
    TrainedModel,
)
from tfs2s.training.trainer import Trainer

__all__ = [
    "METADATA_FILE",
    "SENTIMENT_FILE",
    "TRANSLATOR_FILE",
    "TrainedModel",
    "Trainer",
    "train_model",
]


def train_model(
    topology: Topology,
    model_cfg: ModelConfig,
    train_cfg: TrainConfig,
    data: DataSource,
    *,
    strategy: tf.distribute.Strategy | None = None,
    callbacks: list | None = None,
    verbose: int | str = "auto",
    log_dir: str | None = None,
) -> TrainedModel:
    """Build and train ``topology``; see :mod:`tfs2s.models.phase_schedule` for the phases.

    Args:
        topology: what to train.
        model_cfg: sizes.
        train_cfg: how to train; ``seed`` seeds weights and shuffling (the caller enables
            op determinism for bit-reproducible runs).
        data: the data source.
        strategy: build and train under this distribution strategy.
        callbacks: extra Keras callbacks for every phase.
        verbose: passed to ``fit``.
        log_dir: TensorBoard logs go to ``log_dir/<phase>``.

    Returns:
        the trained models and the per-epoch history. To train several seeds of one
        topology without re-tracing, use :class:`Trainer` and call ``train(seed=...)``.
    """
    trainer = Trainer(topology, model_cfg, train_cfg, data, strategy=strategy)
    return trainer.train(callbacks=callbacks, verbose=verbose, log_dir=log_dir)
