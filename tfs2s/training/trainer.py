"""Compile and run a topology's phase schedule; re-initialise in place for another seed.

:class:`Trainer` builds every model and optimizer once (inside the strategy's scope)
and compiles one functional view per phase of
:func:`~tfs2s.models.phase_schedule.phase_schedule`. :meth:`Trainer.train` runs the
phases in order, freezing the parts a phase does not train, each with early stopping on
its selection metric (``train.select_metric``; best weights restored) when the data has a
non-empty ``valid`` split.
Training again with another seed re-initialises the weights and optimizer state in
place, so the compiled (traced) train/test/predict functions are reused.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import warnings
from typing import Any

import keras
import tensorflow as tf
from keras import ops

from tfs2s import Tfs2sWarning
from tfs2s.compat import (
    build_compiled_state,
    set_random_seed_keeping_kernels,
    trim_graph_optimizer,
)
from tfs2s.config import Mode, ModelConfig, TrainConfig, choices, droppable_modalities
from tfs2s.data.pipeline import DataSource, InMemorySource
from tfs2s.layers.xla_lstm import evaluation_batches
from tfs2s.models.phase_schedule import Phase, phase_schedule
from tfs2s.models.topology_models import TopologyModels
from tfs2s.topology import Topology
from tfs2s.training.callbacks import EpochClock
from tfs2s.training.losses import TRANSLATION_LOSS, absolute_error
from tfs2s.training.optimizers import build_optimizer
from tfs2s.training.phase_data import phase_dataset, representation_dataset
from tfs2s.training.selection import ValidSentimentMetric, early_stopping
from tfs2s.training.stage_memo import StageMemo, restore, snapshot
from tfs2s.training.strategies import is_default, supports_multi_step
from tfs2s.training.timing import PhaseTiming, RunTiming
from tfs2s.training.trained_model import TrainedModel


class Trainer:
    """Builds, compiles and trains the models of one topology; reusable across seeds.

    Args:
        topology: what to train.
        model_cfg: sizes.
        train_cfg: how to train (``seed`` is the default seed of :meth:`train`).
        data: the data source.
        strategy: models and optimizers are built in its scope; ``batch_size`` is global.
        run_eagerly: run train/test/predict steps eagerly. Slow at real sizes; for
            debugging and for tests of many topologies on tiny data, where tracing
            would dominate.
        stage_memo: share trained first translation stages with other trainers of this
            process (:mod:`~tfs2s.training.stage_memo`): a stage another row already
            trained with the same seed, data and configs is restored, not trained again
            (so ``train``'s callbacks and TensorBoard logs see no epoch of it).

    The models returned by :meth:`train` are the trainer's own: a later :meth:`train`
    call re-initialises them in place, so save or evaluate a result before training the
    next seed.

    Attributes:
        timing: the last :meth:`train`'s seconds per epoch of each phase
            (:class:`~tfs2s.training.timing.RunTiming`), None before the first.
        reused: the last :meth:`train`'s phases restored from the stage memo, as
            ``{phase: topology that trained it}``.
    """

    def __init__(
        self,
        topology: Topology,
        model_cfg: ModelConfig,
        train_cfg: TrainConfig,
        data: DataSource,
        *,
        strategy: tf.distribute.Strategy | None = None,
        run_eagerly: bool = False,
        stage_memo: StageMemo | None = None,
    ):
        if train_cfg.mode not in choices(Mode):
            raise ValueError(
                f"train.mode: expected one of {list(choices(Mode))}, found {train_cfg.mode!r}"
            )
        data.require(topology.training_modalities, f"topology {topology.name}")
        self.topology = topology
        self.model_cfg = model_cfg
        self.train_cfg = train_cfg
        self.data = data
        self.strategy = strategy
        self.run_eagerly = run_eagerly
        self.stage_memo = stage_memo
        self.reused: dict[str, str] = {}
        self._has_valid = "valid" in data.nonempty_splits()
        if not self._has_valid:
            warnings.warn(
                f"the data ({getattr(data, 'source', 'given')}) has no valid split: no epoch "
                "is selected and "
                "nothing stops early, so every phase trains all its epochs "
                f"(train.epochs={train_cfg.epochs}, train.translator_epochs="
                f"{train_cfg.translator_epochs}) and keeps the last one",
                Tfs2sWarning,
                stacklevel=2,
            )
        self._multi_step = supports_multi_step(strategy)
        if not self._multi_step and train_cfg.steps_per_execution > 1:
            raise ValueError(
                f"train.steps_per_execution={train_cfg.steps_per_execution} is not supported "
                f"by the {type(strategy).__name__}; use 1 or 0 (0 means 1 there)"
            )
        cycle = (
            train_cfg.mode == "joint" and train_cfg.cycle_weight > 0 and not topology.is_baseline
        )
        self._build_args = (topology, model_cfg, dict(data.dims), data.norm_stats(), cycle)
        self._seed = train_cfg.seed
        self._pristine = True
        self._valid_predictions = None
        self._state_built: set[int] = set()
        self.timing: RunTiming | None = None
        keras.utils.set_random_seed(train_cfg.seed)
        with self._scope():
            self.models = TopologyModels.build(*self._build_args)
            self.phases = phase_schedule(
                self.models, train_cfg, cache_representation=self._can_cache_representation()
            )
            for phase in self.phases:
                self._compile(phase)
                if phase.representation is not None and not phase.representation.compiled:
                    phase.representation.compile(jit_compile=False, run_eagerly=run_eagerly)
            self.sentiment_model = self.models.sentiment_model()
            if not self.sentiment_model.compiled:
                self.sentiment_model.compile(
                    loss={"sentiment": absolute_error},
                    jit_compile=train_cfg.jit_compile,
                    run_eagerly=run_eagerly,
                )
            self.translators = [] if topology.is_baseline else [self.models.translator()]
            for translator in self.translators:
                # Greedy decoding is a dynamic-length while loop: not XLA-compilable.
                translator.compile(jit_compile=False, run_eagerly=run_eagerly)

    def _can_cache_representation(self) -> bool:
        """Whether a two-phase regression phase may train the regressor alone on the
        frozen encoders' output computed once, and a later translation stage its parts
        on the frozen earlier encoders' output (``Phase.representation``).

        It must be the same function of the same batches: the encoders draw no random
        numbers (no dropout), the batches are not altered per step (no modality dropout
        on the regressor's inputs), and the data is in memory, whose batch order the
        computed split can follow. Distribution strategies (other than TensorFlow's
        default, one-replica one) keep the usual path.
        """
        return (
            is_default(self.strategy)
            and isinstance(self.data, InMemorySource)
            and self.model_cfg.dropout == 0
            and self.model_cfg.recurrent_dropout == 0
            and self._modality_dropout() is None
        )

    def _stage_key(self, phase: Phase, seed: int) -> tuple | None:
        """The stage memo's key of ``phase`` (from the current, initial weights), or None
        when the phase is not a first translation stage that the memo may share.

        Only the stage that trains encoder 1 and decoder 1 alone qualifies: its outcome
        depends on nothing but those parts, their data and the configs. Distribution
        strategies (other than the default one) keep the usual path.
        """
        models = self.models
        if (
            self.stage_memo is None
            or not is_default(self.strategy)
            or phase.regresses
            or not models.encoders
            or phase.trainable != [models.encoders[0], models.decoders[0]]
        ):
            return None
        return self.stage_memo.key(
            self.data,
            phase.modalities,
            sorted(phase.targets.items()),
            self.model_cfg,
            dataclasses.replace(self.train_cfg, seed=seed),
            self.run_eagerly,
            parts=phase.trainable,
        )

    def _modality_dropout(self) -> tuple[float, tuple[str, ...]] | None:
        """``(rate, droppable modalities)`` of the regressor's inputs, or None."""
        rate = self.train_cfg.modality_dropout
        droppable = droppable_modalities(self.models.sources, self.train_cfg.modality_dropout_keep)
        return (rate, droppable) if rate > 0 and droppable else None

    def _scope(self):
        return self.strategy.scope() if self.strategy is not None else contextlib.nullcontext()

    def _optimizer(self) -> keras.optimizers.Optimizer:
        cfg = self.train_cfg
        return build_optimizer(
            cfg.optimizer, cfg.learning_rate, cfg.weight_decay, cfg.clipnorm, cfg.ema_momentum
        )

    def _compile(self, phase: Phase) -> None:
        # Every output but ``attention`` (the regressor's weights: no target) has a loss.
        losses = {
            name: absolute_error if name == "sentiment" else TRANSLATION_LOSS
            for name in phase.model.output
            if name != "attention"
        }
        phase.model.compile(
            optimizer=self._optimizer(),
            loss=losses,
            loss_weights=phase.loss_weights,
            jit_compile=self.train_cfg.jit_compile,
            run_eagerly=self.run_eagerly,
        )

    def reinitialize(self, seed: int) -> None:
        """Give every weight the value a fresh build with ``seed`` would give.

        Builds throw-away parts with the seed and copies their variables, then zeroes
        every optimizer's state; compiled functions are kept.
        """
        set_random_seed_keeping_kernels(seed)
        fresh = TopologyModels.build(*self._build_args)
        self.models.copy_weights_from(fresh)
        for phase in self.phases:
            optimizer = phase.model.optimizer
            for variable in optimizer.variables:
                variable.assign(ops.zeros(variable.shape, variable.dtype))
            optimizer.learning_rate = self.train_cfg.learning_rate
        self._seed = seed
        self._pristine = True

    def train(
        self,
        seed: int | None = None,
        *,
        callbacks: list | None = None,
        verbose: int | str = "auto",
        log_dir: str | None = None,
    ) -> TrainedModel:
        """Train every phase from freshly initialised weights.

        Args:
            seed: weight initialisation and shuffling seed; ``train_cfg.seed`` if None.
            callbacks: extra Keras callbacks given to every phase's ``fit``.
            verbose: passed to ``fit``.
            log_dir: write TensorBoard logs to ``log_dir/<phase>``.
        """
        seed = self.train_cfg.seed if seed is None else seed
        if not self._pristine or seed != self._seed:
            self.reinitialize(seed)
        self._pristine = False
        # At every call: a change of TensorFlow's optimizer options since resets it.
        trim_graph_optimizer()
        # Not keras.utils.set_random_seed: it flushes TF's kernel cache, and every traced
        # function would be instantiated again (1-1.5 s per phase and seed).
        set_random_seed_keeping_kernels(seed)
        history: list[dict[str, Any]] = []
        timings = []
        self.reused = {}
        for phase in self.phases:
            key = self._stage_key(phase, seed)
            result = self.stage_memo.get(key) if key is not None else None
            if result is not None:
                history += restore(result, phase.trainable, phase.name)
                self.reused[phase.name] = result.topology
                continue
            clock = EpochClock()
            rows = self._fit(phase, seed, [clock, *(callbacks or [])], verbose, log_dir)
            history += rows
            if key is not None:
                self.stage_memo.put(key, snapshot(phase.trainable, rows, self.topology.name))
            if clock.seconds:
                timings.append(PhaseTiming(phase.name, tuple(clock.seconds)))
        self.timing = RunTiming(tuple(timings))
        for part in self.models.parts:
            part.trainable = True
        return TrainedModel(
            self.topology,
            self.model_cfg,
            dataclasses.replace(self.train_cfg, seed=seed),
            self.sentiment_model,
            list(self.translators),
            history,
            max_seq_len=self.data.max_seq_len,
        )

    def _dataset(self, split: str, phase: Phase, seed: int, training: bool):
        batch = self.train_cfg.batch_size if training else self.train_cfg.eval_batch_size
        if phase.representation is not None:
            return representation_dataset(
                self.data,
                split,
                phase,
                self.models.norm_stats,
                batch_size=batch,
                eval_batch_size=self.train_cfg.eval_batch_size,
                seed=seed,
                training=training,
            )
        dropping = self._modality_dropout() if phase.regresses else None
        return phase_dataset(
            self.data,
            split,
            phase,
            self.models.norm_stats,
            batch_size=batch,
            seed=seed,
            training=training,
            modality_dropout=dropping,
        )

    def _freeze_all_but(self, phase: Phase) -> None:
        trainable = {id(part) for part in phase.trainable}
        for part in self.models.parts:
            part.trainable = id(part) in trainable

    def _set_steps_per_execution(self, phase: Phase, steps: int) -> None:
        per_call = self.train_cfg.steps_per_execution or (steps if self._multi_step else 1)
        # A call must not run into the next epoch's batches: use a divisor of the steps.
        per_call = math.gcd(per_call, steps) or 1
        if phase.model.steps_per_execution != per_call:
            # The compiled train function loops over a fixed number of steps.
            phase.model.steps_per_execution = per_call
            phase.model.train_function = None

    def _fit(self, phase: Phase, seed: int, callbacks: list, verbose, log_dir):
        if phase.epochs == 0:
            return []
        self._freeze_all_but(phase)
        optimizer = phase.model.optimizer
        if not optimizer.built:
            # Creating the slots here, not in the first traced step, spares tf.function a
            # second trace of the whole train step.
            with self._scope():
                optimizer.build(phase.model.trainable_variables)
        train, steps = self._dataset("train", phase, seed, training=True)
        if not self.run_eagerly and id(phase) not in self._state_built:
            # The first trace must not create the loss trackers (it would trace twice).
            with self._scope():
                build_compiled_state(phase.model, train.element_spec)
            self._state_built.add(id(phase))
        self._set_steps_per_execution(phase, steps)
        valid = self._dataset("valid", phase, seed, training=False)[0] if self._has_valid else None
        phase_callbacks = self._selection(phase) if valid is not None else []
        if log_dir is not None:
            phase_callbacks.append(keras.callbacks.TensorBoard(os.path.join(log_dir, phase.name)))
        with evaluation_batches(self._evaluation_batches() if valid is not None else ()):
            fitted = phase.model.fit(
                train,
                epochs=phase.epochs,
                steps_per_epoch=steps,
                validation_data=valid,
                callbacks=phase_callbacks + callbacks,
                verbose=verbose,
                shuffle=False,
            )
        return _history_rows(phase.name, fitted.history, self._selected_metric(phase))

    def _evaluation_batches(self) -> set[int]:
        """The batch sizes of the valid pass after each epoch."""
        count, size = self.data.num_examples("valid"), self.train_cfg.eval_batch_size
        return {min(count, size), count % size} - {0}

    def _selected_metric(self, phase: Phase) -> str:
        """What ``phase`` selects on: translation phases keep their valid loss."""
        return self.train_cfg.select_metric if phase.regresses else "loss"

    def _selection(self, phase: Phase) -> list[keras.callbacks.Callback]:
        """Early stopping (best weights restored) on the phase's selection metric."""
        metric = self._selected_metric(phase)
        callbacks: list[keras.callbacks.Callback] = []
        if metric != "loss":
            if self._valid_predictions is None:
                names = self.topology.inference_modalities
                batches = self.data.dataset("valid", names, self.train_cfg.eval_batch_size)
                self._valid_predictions = (batches.cache(), self.data.labels("valid"))
            dataset, labels = self._valid_predictions
            callbacks.append(ValidSentimentMetric(metric, self.sentiment_model, dataset, labels))
        if self.train_cfg.ema_momentum is not None:
            # First: every epoch's validation, selection metric and best weights are the
            # averaged weights; training goes on from the raw ones.
            callbacks.insert(0, keras.callbacks.SwapEMAWeights(swap_on_epoch=True))
        return callbacks + [early_stopping(metric, self.train_cfg.patience)]


def _history_rows(phase: str, history: dict, metric: str) -> list[dict[str, Any]]:
    """One row per epoch: ``phase, epoch, loss, val_loss`` (+ ``val_<metric>``)."""
    losses = history["loss"]
    columns = ["val_loss"] + ([f"val_{metric}"] if metric != "loss" else [])
    rows = []
    for i, loss in enumerate(losses):
        row = {"phase": phase, "epoch": i + 1, "loss": float(loss)}
        for column in columns:
            values = history.get(column)
            row[column] = None if values is None else float(values[i])
        rows.append(row)
    return rows
