"""Every use of a private TensorFlow, Keras or keras-tuner API, in one place.

tfs2s works around a few Keras 3 bugs and reaches a few internals that have no public
equivalent. Each such use lives here, behind a function that checks the internal it needs
is still there and otherwise raises :class:`CompatError` naming the installed Keras (or
keras-tuner / TensorFlow) version and the one these workarounds were tested on. Keras is
pinned to that minor version in ``pyproject.toml`` (:data:`KERAS_TESTED`); upgrading it
means re-running ``tfs2s/compat_test.py`` and ``tfs2s/training/strategies_test.py``.

The uses:

- :func:`patch_keras_for_distribution`: ``keras.src.backend.tensorflow.trainer``
  (keras-team/keras#20585, tensorflow/tensorflow#72388), applied whenever a
  ``MirroredStrategy`` or ``MultiWorkerMirroredStrategy`` is built.
- :func:`restore_backup` / :func:`set_initial_epoch`: ``BackupAndRestore._load_model`` and
  ``Model._initial_epoch``, the hooks Keras' own ``BackupAndRestore`` resumes through.
- :func:`no_automatic_dependency_tracking`: ``tf.__internal__.tracking``, so that a serving
  module holds Keras models without saving their variables twice.
- :func:`in_multi_worker_mode`: ``Strategy.extended._in_multi_worker_mode``.
- :func:`keras_tuner_role`: ``keras_tuner.src.distribute.utils`` (chief or worker).
- :func:`build_compiled_state`: ``Model._symbolic_build``, so that the compiled loss's
  trackers exist before the train step is traced (else every phase traces it twice).
- :func:`set_random_seed_keeping_kernels`: Keras' global seed state
  (``keras.src.backend.common.global_state``) and the eager context's ``_seed``/``_rng``,
  to reseed without ``tf.random.set_seed``'s clearing of every cached kernel.
- :func:`trim_graph_optimizer`: the eager context's ``function_call_options`` (the
  ``ConfigProto`` Grappler optimises every traced function with), to skip passes that
  cost set-up time and change nothing in tfs2s's graphs on CPU.
"""

from __future__ import annotations

import os
from typing import Any

#: The Keras minor version every workaround here was tested on (pinned in pyproject.toml).
KERAS_TESTED = "3.15"
#: The keras-tuner minor version :func:`keras_tuner_role` was tested on.
KERAS_TUNER_TESTED = "1.4"


class CompatError(RuntimeError):
    """An internal API tfs2s relies on is missing from the installed library version."""


def _fail(library: str, version: str, tested: str, what: str) -> CompatError:
    return CompatError(
        f"tfs2s needs {what}, which {library} {version} does not have; tfs2s's workarounds "
        f"for {library} internals are tested on {library} {tested}.x (pinned in "
        f"pyproject.toml): install {library}=={tested}.* or update tfs2s/compat.py"
    )


def _keras_fail(what: str) -> CompatError:
    import keras

    return _fail("Keras", keras.__version__, KERAS_TESTED, what)


# --------------------------------------------------------------------------- distribution


def _tensorflow_trainer():
    """``keras.src.backend.tensorflow.trainer``, checked for what the patch replaces."""
    try:
        from keras.src.backend.tensorflow import trainer
    except ImportError:
        raise _keras_fail("the module keras.src.backend.tensorflow.trainer") from None
    needed = {
        "TensorFlowTrainer._maybe_symbolic_build": hasattr(
            getattr(trainer, "TensorFlowTrainer", None), "_maybe_symbolic_build"
        ),
        "TensorFlowTrainer._symbolic_build": hasattr(
            getattr(trainer, "TensorFlowTrainer", None), "_symbolic_build"
        ),
        "reduce_per_replica": callable(getattr(trainer, "reduce_per_replica", None)),
        "_collective_all_reduce_multi_worker": callable(
            getattr(trainer, "_collective_all_reduce_multi_worker", None)
        ),
    }
    missing = [name for name, ok in needed.items() if not ok]
    if missing:
        raise _keras_fail(f"keras.src.backend.tensorflow.trainer.{missing[0]}")
    return trainer


def distribution_patch_applied() -> bool:
    """True once :func:`patch_keras_for_distribution` has replaced Keras' functions."""
    from keras.src.backend.tensorflow import trainer

    return bool(getattr(trainer, "_tfs2s_distribution_patch", False))


def patch_keras_for_distribution() -> None:
    """Work around Keras 3 bugs that make ``Model.fit`` fail under a multi-replica
    strategy (keras-team/keras#20585, tensorflow/tensorflow#72388).

    1. ``TensorFlowTrainer._maybe_symbolic_build`` averages the first batch's per-replica
       values with ``strategy.reduce`` only to learn the input shapes. Under
       ``MultiWorkerMirroredStrategy`` that fails on the ``(features, label)`` structure
       ("Attempt to convert a value (PerReplica...)"); under ``MirroredStrategy`` it fails
       when the first batch does not split evenly over the replicas (a valid split of 13
       over 2 replicas: "Inputs to operation AddN ... must have the same size"). The first
       local replica's batch gives the same shapes without any reduction.
    2. ``reduce_per_replica`` reduces the scalar step outputs (loss, metrics) of a
       multi-worker step with ``axis=0`` ("Invalid reduction dimension 0 for input with 0
       dimensions"); they are averaged across replicas with ``axis=None`` instead, as
       single-worker strategies do.

    Idempotent.

    Raises:
        CompatError: the installed Keras lacks the functions this patch replaces.
    """
    import keras
    import tensorflow as tf

    trainer = _tensorflow_trainer()
    if getattr(trainer, "_tfs2s_distribution_patch", False):
        return

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        if self._distribute_strategy is None:
            return
        if iterator is not None:
            for _, _, it in iterator:
                data_batch = keras.tree.map_structure(
                    lambda v: (
                        self.distribute_strategy.experimental_local_results(v)[0]
                        if isinstance(v, tf.distribute.DistributedValues)
                        else v
                    ),
                    next(it),
                )
                break
        with self.distribute_strategy.scope():
            self._symbolic_build(data_batch=data_batch)

    original_reduce = trainer.reduce_per_replica
    is_multi_worker_collective = trainer._collective_all_reduce_multi_worker

    def reduce_per_replica(values, strategy, reduction):
        if reduction in ("auto", "mean") and is_multi_worker_collective(strategy):
            return keras.tree.map_structure(lambda v: strategy.reduce("MEAN", v, axis=None), values)
        return original_reduce(values, strategy, reduction)

    trainer.TensorFlowTrainer._maybe_symbolic_build = _maybe_symbolic_build
    trainer.reduce_per_replica = reduce_per_replica
    trainer._tfs2s_distribution_patch = True


def in_multi_worker_mode(strategy: Any) -> bool:
    """True for a ``tf.distribute`` strategy spanning several processes.

    Raises:
        CompatError: the strategy's ``extended`` lacks ``_in_multi_worker_mode``.
    """
    probe = getattr(strategy.extended, "_in_multi_worker_mode", None)
    if probe is None:
        import tensorflow as tf

        raise _fail(
            "TensorFlow",
            tf.__version__,
            "2.21",
            f"{type(strategy.extended).__name__}._in_multi_worker_mode",
        )
    return bool(probe())


# --------------------------------------------------------------------------- backups


def restore_backup(callback: Any) -> None:
    """Restore weights, optimizer state and the initial epoch as Keras' own
    ``BackupAndRestore.on_train_begin`` does (its ``_load_model``).

    Raises:
        CompatError: ``BackupAndRestore`` has no ``_load_model``.
    """
    load = getattr(callback, "_load_model", None)
    if not callable(load):
        raise _keras_fail("keras.callbacks.BackupAndRestore._load_model")
    load()


def set_initial_epoch(model: Any, epoch: int | None) -> None:
    """Set the epoch ``Model.fit`` starts from (``Model._initial_epoch``, read by ``fit``
    after the callbacks' ``on_train_begin``; ``None`` restores the ``initial_epoch``
    argument).

    Raises:
        CompatError: the model has no ``_initial_epoch`` attribute.
    """
    if not hasattr(model, "_initial_epoch"):
        raise _keras_fail("keras.Model._initial_epoch (set by BackupAndRestore)")
    model._initial_epoch = epoch


def build_compiled_state(model: Any, element_spec: Any) -> None:
    """Create a compiled model's loss trackers (and optimizer slots) before ``fit``.

    Without a distribution strategy, Keras 3 builds the compiled loss inside the first
    trace of the train step. Its per-output loss trackers are variables, and a
    ``tf.function`` that creates variables is traced twice: the whole step (a few
    seconds for a seq2seq phase) once more. Keras' own symbolic build, which it runs
    under a strategy, creates them from ``element_spec`` (``(x, y[, sample_weight])``
    of ``tf.TensorSpec``) without running the model.

    Raises:
        CompatError: the model has no ``_symbolic_build``.
    """
    build = getattr(model, "_symbolic_build", None)
    if not callable(build):
        raise _keras_fail("keras.Model._symbolic_build")
    build(data_batch=element_spec)


# --------------------------------------------------------------------------- tracking


def no_automatic_dependency_tracking(method):
    """Decorator: attributes set inside ``method`` are not tracked as a ``tf.Module``'s
    dependencies (``tf.__internal__.tracking.no_automatic_dependency_tracking``).

    Raises:
        CompatError: TensorFlow has no such decorator.
    """
    import tensorflow as tf

    try:
        decorator = tf.__internal__.tracking.no_automatic_dependency_tracking
    except AttributeError:
        raise _fail(
            "TensorFlow",
            tf.__version__,
            "2.21",
            "tf.__internal__.tracking.no_automatic_dependency_tracking",
        ) from None
    return decorator(method)


# --------------------------------------------------------------------------- seeding


def set_random_seed_keeping_kernels(seed: int) -> None:
    """``keras.utils.set_random_seed(seed)``, minus the eager kernel-cache flush.

    ``tf.random.set_seed`` clears the eager context's kernel cache, so the next call of
    every already-traced function instantiates and optimises its graph again: measured
    1.4 s for a translator's train step and 0.8 s for a regressor's, per phase and seed,
    on the built-in data. The flush only matters for stateful TF random ops run eagerly
    (they restart their sequence); tfs2s draws randomness from Keras seed generators,
    stateless ops and seeded ``tf.data`` ops, which read the global seed set here.

    Sets, as Keras does: Python's and NumPy's seeds, Keras' global seed (and drops its
    global seed generator), and TensorFlow's global seed (``tf.random.get_global_generator``
    is not touched, as by Keras).

    Raises:
        CompatError: Keras or TensorFlow no longer has the internals used.
    """
    import random

    import numpy as np

    try:
        from keras.src.backend.common import global_state
        from keras.src.random import seed_generator
        from keras.src.utils import rng_utils
        from tensorflow.python.eager import context
    except ImportError:
        raise _keras_fail("keras.src.utils.rng_utils and keras.src.random.seed_generator") from None
    needed = (
        hasattr(rng_utils, "GLOBAL_RANDOM_SEED")
        and hasattr(seed_generator, "GLOBAL_SEED_GENERATOR")
        and callable(getattr(global_state, "set_global_attribute", None))
    )
    if not needed:
        raise _keras_fail("keras.src.utils.rng_utils.GLOBAL_RANDOM_SEED")
    ctx = context.context()
    # ``_rng`` only exists once a global seed was set; ``_seed`` from the start.
    if not hasattr(ctx, "_seed"):
        import tensorflow as tf

        raise _fail("TensorFlow", tf.__version__, "2.21", "the eager context's _seed")
    global_state.set_global_attribute(rng_utils.GLOBAL_RANDOM_SEED, seed)
    global_state.set_global_attribute(seed_generator.GLOBAL_SEED_GENERATOR, None)
    random.seed(seed)
    np.random.seed(seed)
    ctx._seed = seed
    ctx._rng = random.Random(seed)


# --------------------------------------------------------------------------- graph set-up

#: Grappler passes :func:`trim_graph_optimizer` skips (RewriterConfig fields and values).
TRIMMED_GRAPPLER = {
    "memory_optimization": "NO_MEM_OPT",
    "layout_optimizer": "OFF",
    "disable_tfg_optimizer": True,
    "meta_optimizer_iterations": "ONE",
}


def trim_graph_optimizer() -> bool:
    """Skip the Grappler passes that cost set-up time and change nothing here, on CPU.

    The first call of every traced function runs TensorFlow's graph optimiser
    (Grappler) over its graph. For tfs2s's LSTM graphs (measured with
    ``TF_CPP_VMODULE=meta_optimizer=1`` on the joint ``embed_TV_A`` train step, 8164
    nodes) four parts of that work change nothing on CPU:

    * the memory optimiser (swapping and recomputation for accelerator memory): 0 nodes
      changed, 190 ms;
    * the layout optimiser (NCHW/NHWC for convolutions; tfs2s has none): 0 nodes, 120 ms;
    * the MLIR ``tfg`` passes (shape inference, attribute clean-up): 0 nodes, 280 ms;
    * Grappler's second round over the whole graph: 8 of 5616 nodes merged by CSE, 550 ms.

    Skipping them takes about 1 s off a joint phase's first epoch and 0.5-1 s off each
    two-phase phase's, with bitwise the same trained weights (``compat_test.py``) and
    the same steady epochs. Every other pass (pruning, CSE, constant folding, the
    arithmetic, loop and dependency optimisers, the remapper's fused kernels) still runs.

    The setting is the eager context's function-call options of the calling thread (the
    one that trains); a later change of TensorFlow's optimizer options resets them, so
    :meth:`~tfs2s.training.trainer.Trainer.train` applies it at every call. With a GPU visible
    nothing is changed: the memory and layout optimisers matter there.

    Returns:
        whether the options were applied: False with a GPU, and False (with a warning,
        since only speed is lost) when TensorFlow no longer has the eager context's
        function-call options.
    """
    import warnings

    import tensorflow as tf
    from tensorflow.core.protobuf import config_pb2, rewriter_config_pb2

    if tf.config.list_physical_devices("GPU"):
        return False
    try:
        from tensorflow.python.eager import context

        options = context.context().function_call_options
        serialized = options.config_proto_serialized
    except (ImportError, AttributeError):
        warnings.warn(
            f"tfs2s: graphs are optimised with every Grappler pass (slower first epochs): "
            f"TensorFlow {tf.__version__} has no eager-context function_call_options "
            f"(tested on 2.21)",
            stacklevel=2,
        )
        return False
    config = config_pb2.ConfigProto.FromString(serialized or b"")
    rewrite = config.graph_options.rewrite_options
    enum = rewriter_config_pb2.RewriterConfig
    for field, value in TRIMMED_GRAPPLER.items():
        setattr(rewrite, field, getattr(enum, value) if isinstance(value, str) else value)
    options.config_proto_serialized = config
    return True


# --------------------------------------------------------------------------- keras-tuner


def keras_tuner_role() -> str | None:
    """``"chief"``, this worker's ``KERASTUNER_TUNER_ID``, or None outside keras-tuner's
    distributed mode (``keras_tuner.src.distribute.utils``).

    Raises:
        CompatError: keras-tuner no longer has those helpers.
    """
    import keras_tuner

    try:
        from keras_tuner.src.distribute import utils
    except ImportError:
        utils = None
    if utils is None or not all(
        callable(getattr(utils, name, None)) for name in ("has_chief_oracle", "is_chief_oracle")
    ):
        raise _fail(
            "keras-tuner",
            keras_tuner.__version__,
            KERAS_TUNER_TESTED,
            "keras_tuner.src.distribute.utils.has_chief_oracle/is_chief_oracle",
        )
    if not utils.has_chief_oracle():
        return None
    return "chief" if utils.is_chief_oracle() else os.environ["KERASTUNER_TUNER_ID"]
