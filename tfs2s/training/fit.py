"""Train a topology: the poster's two-phase algorithms, joint training and baselines.

:func:`train_model` is what the CLI and the experiment runner call. It builds a
:class:`Trainer`, which builds every model and optimizer once (inside the strategy's
scope) and compiles one functional view per phase. A :class:`Trainer` can train again
with another seed (:meth:`Trainer.train`): it re-initialises the weights and optimizer
state in place, so the compiled (traced) train/test/predict functions are reused.

Phases (``train_cfg.mode``):

* ``two_phase`` (Algorithms 1 and 2): each translation stage trains its encoder and
  decoder with teacher forcing on the masked MSE of the standardised target, earlier
  encoders frozen; then the regression phase trains the regressor on the encoders' output
  sequence with MAE, the encoders frozen unless ``finetune_encoder``.
* ``joint``: one phase, ``MAE + translation_weight * MSE(translation stages) +
  cycle_weight * MSE(back-translation to the sources)``.
* baselines: one regression phase.

Each phase runs up to its epoch budget with early stopping on the valid loss (best
weights restored) when the data has a non-empty ``valid`` split.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import keras
import tensorflow as tf
from keras import ops

from tfs2s import modalities as M
from tfs2s.config import ModelConfig, TrainConfig
from tfs2s.data.pipeline import PARALLEL_CALLS, DataSource, finish_pipeline
from tfs2s.layers.masked_normalization import normalize_features
from tfs2s.models.topology_models import TopologyModels
from tfs2s.topology import Topology, parse_topology
from tfs2s.training.losses import TRANSLATION_LOSS, absolute_error, translation_step_weights
from tfs2s.training.strategies import supports_multi_step

MODES: tuple[str, ...] = ("two_phase", "joint")
SENTIMENT_FILE = "model.keras"
TRANSLATOR_FILE = "translator.keras"
METADATA_FILE = "trained.json"
#: Evaluation data up to this size is kept in memory after its first pass.
EVAL_CACHE_BYTES = 256 << 20


@dataclasses.dataclass
class TrainedModel:
    """The result of training one topology.

    Attributes:
        topology: the parsed topology.
        model_cfg: sizes the models were built with.
        train_cfg: how they were trained.
        sentiment_model: ``{inference modalities..., "mask"} -> {"sentiment": (batch,)}``,
            reading the source modalities only (``embed_XY_Z``: X only); compiled with
            the MAE loss, so ``evaluate`` and ``predict`` run compiled.
        translators: greedy inference translators ``{sources..., "mask"} ->
            {"translation": (batch, steps, target dims)}`` in the raw target scale, of the
            final target (``embed_XY_Z``: X to Z through both encoders); empty for
            baselines.
        history: one row per phase and epoch: ``{"phase", "epoch", "loss", "val_loss"}``
            (``val_loss`` is None without a valid split).
    """

    topology: Topology
    model_cfg: ModelConfig
    train_cfg: TrainConfig
    sentiment_model: keras.Model
    translators: list[keras.Model]
    history: list[dict[str, Any]]

    def save(self, directory: str | os.PathLike) -> Path:
        """Write ``model.keras``, ``translator.keras`` (if any) and ``trained.json``."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        _standalone(self.sentiment_model).save(directory / SENTIMENT_FILE)
        for i, translator in enumerate(self.translators):
            _standalone(translator).save(directory / _translator_file(i))
        metadata = {
            "topology": self.topology.name,
            "model": dataclasses.asdict(self.model_cfg),
            "train": dataclasses.asdict(self.train_cfg),
            "translators": len(self.translators),
            "history": self.history,
        }
        (directory / METADATA_FILE).write_text(json.dumps(metadata, indent=1))
        return directory

    @classmethod
    def load(cls, directory: str | os.PathLike) -> TrainedModel:
        """Load what :meth:`save` wrote."""
        directory = Path(directory)
        meta_path = directory / METADATA_FILE
        if not meta_path.is_file():
            raise FileNotFoundError(
                f"{meta_path} does not exist; expected a directory written by TrainedModel.save"
            )
        metadata = json.loads(meta_path.read_text())
        return cls(
            topology=parse_topology(metadata["topology"]),
            model_cfg=ModelConfig(**metadata["model"]),
            train_cfg=TrainConfig(**metadata["train"]),
            sentiment_model=keras.saving.load_model(directory / SENTIMENT_FILE),
            translators=[
                keras.saving.load_model(directory / _translator_file(i))
                for i in range(metadata["translators"])
            ],
            history=metadata["history"],
        )


def _standalone(model: keras.Model) -> keras.Model:
    """An uncompiled copy of ``model``: the artefact holds no optimizer state or loss."""
    copy = model.__class__.from_config(model.get_config())
    copy.set_weights(model.get_weights())
    return copy


def _translator_file(index: int) -> str:
    return TRANSLATOR_FILE if index == 0 else f"translator_{index}.keras"


@dataclasses.dataclass
class _Phase:
    """One ``fit`` call: a compiled view, what it trains and how batches feed it."""

    name: str
    model: keras.Model
    trainable: list[keras.layers.Layer]
    epochs: int
    modalities: tuple[str, ...]
    prepare: Callable


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

    The models returned by :meth:`train` are the trainer's own: a later :meth:`train`
    call re-initialises them in place, so save or evaluate a result before training the
    next seed.
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
    ):
        if train_cfg.mode not in MODES:
            raise ValueError(f"train.mode: expected one of {list(MODES)}, found {train_cfg.mode!r}")
        data.require(topology.training_modalities, f"topology {topology.name}")
        self.topology = topology
        self.model_cfg = model_cfg
        self.train_cfg = train_cfg
        self.data = data
        self.strategy = strategy
        self.run_eagerly = run_eagerly
        self._has_valid = "valid" in data.nonempty_splits()
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
        keras.utils.set_random_seed(train_cfg.seed)
        with self._scope():
            self.models = TopologyModels.build(*self._build_args)
            self.phases = self._build_phases()
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

    def _scope(self):
        return self.strategy.scope() if self.strategy is not None else contextlib.nullcontext()

    # --- Building ---------------------------------------------------------------------

    def _optimizer(self) -> keras.optimizers.Optimizer:
        return keras.optimizers.get(
            {
                "class_name": self.train_cfg.optimizer,
                "config": {"learning_rate": self.train_cfg.learning_rate},
            }
        )

    def _compile(self, model: keras.Model, loss: dict, loss_weights: dict | None = None):
        model.compile(
            optimizer=self._optimizer(),
            loss=loss,
            loss_weights=loss_weights,
            jit_compile=self.train_cfg.jit_compile,
            run_eagerly=self.run_eagerly,
        )
        return model

    def _build_phases(self) -> list[_Phase]:
        models, cfg = self.models, self.train_cfg
        sources = models.sources
        encoders = list(models.encoders)
        if cfg.mode == "joint" and not self.topology.is_baseline:
            return [self._joint_phase()]
        regression = _Phase(
            "regression",
            self._compile(models.sentiment_model(), {"sentiment": absolute_error}),
            trainable=[models.regressor] + (encoders if cfg.finetune_encoder else []),
            epochs=cfg.epochs,
            modalities=sources,
            prepare=self._regression_batch,
        )
        if self.topology.is_baseline:
            return [regression]
        phases = []
        for stage, targets in enumerate(models.stage_targets):
            name = "translation" if len(models.stage_targets) == 1 else f"translation_{stage + 1}"
            phases.append(
                _Phase(
                    name,
                    self._compile(
                        models.translation_model(stage), {"translation": TRANSLATION_LOSS}
                    ),
                    trainable=[encoders[stage], models.decoders[stage]],
                    epochs=cfg.translator_epochs,
                    modalities=_union(sources, targets),
                    prepare=self._translation_batch(sources, targets),
                )
            )
        return phases + [regression]

    def _joint_phase(self) -> _Phase:
        models, cfg = self.models, self.train_cfg
        model = models.joint_model()
        weights = {
            "sentiment": 1.0,
            "translation": cfg.translation_weight,
            "intermediate": cfg.translation_weight,
            "cycle": cfg.cycle_weight,
        }
        losses = {
            name: absolute_error if name == "sentiment" else TRANSLATION_LOSS
            for name in model.output
        }
        outputs = {
            "translation": models.stage_targets[-1],
            "intermediate": models.stage_targets[0],
            "cycle": models.sources,
        }
        outputs = {name: names for name, names in outputs.items() if name in model.output}

        @tf.autograph.experimental.do_not_convert
        def prepare(features, label):
            inputs = {k: features[k] for k in (*self.topology.training_modalities, M.MASK)}
            y = {"sentiment": label}
            sample_weights = {"sentiment": ops.ones_like(label)}
            step_weights = translation_step_weights(features[M.MASK])
            for name, names in outputs.items():
                y[name] = self._standardised(features, names)
                sample_weights[name] = step_weights
            return inputs, y, sample_weights

        return _Phase(
            "joint",
            self._compile(model, losses, {name: weights[name] for name in model.output}),
            trainable=models.parts,
            epochs=cfg.epochs,
            modalities=self.topology.training_modalities,
            prepare=prepare,
        )

    # --- Batches ----------------------------------------------------------------------

    def _standardised(self, features, names):
        """Standardised joined target (batch, steps, dims): the translation loss target."""
        stats = self.models.norm_stats
        parts = [
            normalize_features(
                features[n], stats[n]["mean"], stats[n]["variance"], features[M.MASK]
            )
            for n in names
        ]
        return parts[0] if len(parts) == 1 else ops.concatenate(parts, axis=-1)

    @tf.autograph.experimental.do_not_convert
    def _regression_batch(self, features, label):
        inputs = {k: features[k] for k in (*self.models.sources, M.MASK)}
        return inputs, {"sentiment": label}

    def _translation_batch(self, sources, targets):
        @tf.autograph.experimental.do_not_convert
        def prepare(features, label):
            inputs = {k: features[k] for k in (*_union(sources, targets), M.MASK)}
            return (
                inputs,
                {"translation": self._standardised(features, targets)},
                {"translation": translation_step_weights(features[M.MASK])},
            )

        return prepare

    def _dataset(self, split: str, phase: _Phase, seed: int, training: bool):
        """A mapped dataset of ``split`` and its steps per epoch.

        Training batches are shuffled, repeated and full (a fixed batch shape keeps one
        trace, one XLA compilation) unless the split is smaller than one batch.
        Evaluation batches are ``eval_batch_size`` large and, when the split is small,
        cached after the first pass (the valid loss is computed after every epoch).
        """
        batch = self.train_cfg.batch_size if training else self.train_cfg.eval_batch_size
        count = self.data.num_examples(split)
        full = training and count >= batch
        dataset = self.data.dataset(
            split,
            phase.modalities,
            batch,
            shuffle=training,
            seed=seed,
            drop_remainder=full,
            repeat=training,
        )
        dataset = dataset.map(phase.prepare, num_parallel_calls=PARALLEL_CALLS, deterministic=True)
        steps = count // batch if full else math.ceil(count / batch)
        if not training:
            # inputs and (standardised) targets: at most twice the features of the split
            width = sum(self.data.dims[name] for name in phase.modalities) + 1
            if 2 * count * self.data.max_seq_len * width * 4 <= EVAL_CACHE_BYTES:
                dataset = dataset.cache()
        return finish_pipeline(dataset), steps

    # --- Training ---------------------------------------------------------------------

    def reinitialize(self, seed: int) -> None:
        """Give every weight the value a fresh build with ``seed`` would give.

        Builds throw-away parts with the seed and copies their variables, then zeroes
        every optimizer's state; compiled functions are kept.
        """
        keras.utils.set_random_seed(seed)
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
        keras.utils.set_random_seed(seed)
        history: list[dict[str, Any]] = []
        for phase in self.phases:
            history += self._fit(phase, seed, callbacks or [], verbose, log_dir)
        for part in self.models.parts:
            part.trainable = True
        return TrainedModel(
            self.topology,
            self.model_cfg,
            dataclasses.replace(self.train_cfg, seed=seed),
            self.sentiment_model,
            list(self.translators),
            history,
        )

    def _fit(self, phase: _Phase, seed: int, callbacks: list, verbose, log_dir):
        if phase.epochs == 0:
            return []
        trainable = {id(part) for part in phase.trainable}
        for part in self.models.parts:
            part.trainable = id(part) in trainable
        optimizer = phase.model.optimizer
        if not optimizer.built:
            # Creating the slots here, not in the first traced step, spares tf.function a
            # second trace of the whole train step.
            with self._scope():
                optimizer.build(phase.model.trainable_variables)
        train, steps = self._dataset("train", phase, seed, training=True)
        per_call = self.train_cfg.steps_per_execution or (steps if self._multi_step else 1)
        # A call must not run into the next epoch's batches: use a divisor of the steps.
        per_call = math.gcd(per_call, steps) or 1
        if phase.model.steps_per_execution != per_call:
            # The compiled train function loops over a fixed number of steps.
            phase.model.steps_per_execution = per_call
            phase.model.train_function = None
        valid = self._dataset("valid", phase, seed, training=False)[0] if self._has_valid else None
        phase_callbacks = []
        if valid is not None:
            phase_callbacks.append(
                keras.callbacks.EarlyStopping(
                    monitor="val_loss", patience=self.train_cfg.patience, restore_best_weights=True
                )
            )
        if log_dir is not None:
            phase_callbacks.append(keras.callbacks.TensorBoard(os.path.join(log_dir, phase.name)))
        fitted = phase.model.fit(
            train,
            epochs=phase.epochs,
            steps_per_epoch=steps,
            validation_data=valid,
            callbacks=phase_callbacks + callbacks,
            verbose=verbose,
            shuffle=False,
        )
        losses = fitted.history["loss"]
        val_losses = fitted.history.get("val_loss", [None] * len(losses))
        return [
            {
                "phase": phase.name,
                "epoch": i + 1,
                "loss": float(loss),
                "val_loss": None if val is None else float(val),
            }
            for i, (loss, val) in enumerate(zip(losses, val_losses, strict=True))
        ]


def _union(*groups: Sequence[str]) -> tuple[str, ...]:
    """Modality names of ``groups`` in canonical order, once each."""
    names = {n for group in groups for n in group}
    return tuple(M.NAMES[c] for c in M.CODES if M.NAMES[c] in names)


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
    """Build and train ``topology``; see the module docstring for the phases.

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
