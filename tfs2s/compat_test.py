import keras
import pytest
import tensorflow as tf

from tfs2s import compat
from tfs2s.training import strategies


def test_keras_is_the_tested_minor_version():
    # pyproject.toml pins Keras to KERAS_TESTED; a mismatch means the workarounds run untested.
    assert keras.__version__.startswith(compat.KERAS_TESTED + ".")


def test_building_a_mirrored_strategy_applies_the_distribution_patch(monkeypatch):
    from keras.src.backend.tensorflow import trainer

    original_build = trainer.TensorFlowTrainer._maybe_symbolic_build
    original_reduce = trainer.reduce_per_replica
    monkeypatch.setattr(trainer, "_tfs2s_distribution_patch", False, raising=False)
    monkeypatch.setattr(trainer.TensorFlowTrainer, "_maybe_symbolic_build", original_build)
    monkeypatch.setattr(trainer, "reduce_per_replica", original_reduce)
    assert not compat.distribution_patch_applied()

    strategy = strategies.make_strategy("mirrored")

    assert isinstance(strategy, tf.distribute.MirroredStrategy)
    assert compat.distribution_patch_applied()
    assert trainer.TensorFlowTrainer._maybe_symbolic_build is not original_build
    assert trainer.reduce_per_replica is not original_reduce
    patched = trainer.reduce_per_replica
    compat.patch_keras_for_distribution()  # idempotent: not wrapped twice
    assert trainer.reduce_per_replica is patched


def test_a_keras_without_the_patched_internals_is_a_loud_error(monkeypatch):
    from keras.src.backend.tensorflow import trainer

    monkeypatch.setattr(trainer, "_tfs2s_distribution_patch", False, raising=False)
    monkeypatch.delattr(trainer, "reduce_per_replica")
    with pytest.raises(compat.CompatError, match=f"Keras {keras.__version__}.*3.15"):
        strategies.make_strategy("mirrored")


def test_backup_and_initial_epoch_hooks_name_the_keras_version():
    with pytest.raises(compat.CompatError, match="BackupAndRestore._load_model"):
        compat.restore_backup(object())
    with pytest.raises(compat.CompatError, match=f"Keras {keras.__version__}"):
        compat.set_initial_epoch(object(), 3)
    model = keras.Sequential([keras.layers.Dense(1)])
    compat.set_initial_epoch(model, 3)
    assert model._initial_epoch == 3


def test_build_compiled_state_creates_the_loss_trackers_without_running_the_model():
    with pytest.raises(compat.CompatError, match="_symbolic_build"):
        compat.build_compiled_state(object(), None)
    inputs = keras.Input((3,))
    model = keras.Model(inputs, {"a": keras.layers.Dense(1)(inputs), "b": inputs})
    model.compile(optimizer="adam", loss={"a": "mse", "b": "mae"})
    spec = (
        tf.TensorSpec((8, 3)),
        {"a": tf.TensorSpec((8, 1)), "b": tf.TensorSpec((8, 3))},
    )
    before = len(model.metrics_variables)
    compat.build_compiled_state(model, spec)
    assert len(model.metrics_variables) > before
    assert model.optimizer.built


def test_multi_worker_probe_and_tuner_role_outside_a_cluster(monkeypatch):
    for var in ("KERASTUNER_ORACLE_IP", "KERASTUNER_ORACLE_PORT", "KERASTUNER_TUNER_ID"):
        monkeypatch.delenv(var, raising=False)
    assert compat.keras_tuner_role() is None
    assert compat.in_multi_worker_mode(tf.distribute.get_strategy()) is False

    class Extended:
        pass

    class Fake:
        extended = Extended()

    with pytest.raises(compat.CompatError, match="_in_multi_worker_mode"):
        compat.in_multi_worker_mode(Fake())


def test_no_tfs2s_module_outside_compat_uses_private_apis():
    import pathlib

    root = pathlib.Path(compat.__file__).parent
    offenders = [
        f"{path.relative_to(root.parent)}: {needle}"
        for path in root.rglob("*.py")
        if path.name != "compat.py" and not path.name.endswith("_test.py")
        for needle in ("keras.src", "keras_tuner.src", "tf.__internal__", "._load_model(")
        if needle in path.read_text()
    ]
    assert offenders == []


def _random_state() -> tuple:
    import random

    import keras
    import numpy as np
    import tensorflow as tf

    order = list(tf.data.Dataset.range(8).shuffle(8).as_numpy_iterator())
    return (
        random.random(),
        float(np.random.rand()),
        float(keras.random.uniform(())),
        keras.initializers.GlorotUniform()((3, 3)).numpy().tolist(),
        tuple(order),
    )


def test_reseeding_without_flushing_kernels_draws_what_keras_reseeding_draws():
    import keras

    keras.utils.set_random_seed(5)
    expected = _random_state()
    keras.utils.set_random_seed(6)
    other = _random_state()
    compat.set_random_seed_keeping_kernels(5)
    assert _random_state() == expected
    compat.set_random_seed_keeping_kernels(6)
    assert _random_state() == other != expected


def test_trimmed_graph_optimizer_is_applied_and_computes_bitwise_the_same():
    """Each optimizer config instantiates its own copy of a traced function, so one
    process can run the same function under both."""
    from tensorflow.core.protobuf import config_pb2, rewriter_config_pb2
    from tensorflow.python.eager import context

    keras.utils.set_random_seed(0)
    layer = keras.layers.Bidirectional(keras.layers.LSTM(8, return_sequences=True))
    x = tf.random.stateless_normal((4, 6, 5), seed=(1, 2))
    layer(x)

    @tf.function
    def loss_and_grads(x):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(tf.square(layer(x)))
        return loss, tape.gradient(loss, layer.trainable_variables)

    ctx = context.context()
    saved = ctx.function_call_options
    try:
        ctx.function_call_options = context.FunctionCallOptions(config_proto=ctx.config)
        expected = loss_and_grads(x)
        assert compat.trim_graph_optimizer()
        serialized = ctx.function_call_options.config_proto_serialized
        got = loss_and_grads(x)
    finally:
        ctx.function_call_options = saved
    rewrite = config_pb2.ConfigProto.FromString(serialized).graph_options.rewrite_options
    enum = rewriter_config_pb2.RewriterConfig
    assert rewrite.memory_optimization == enum.NO_MEM_OPT
    assert rewrite.layout_optimizer == enum.OFF
    assert rewrite.meta_optimizer_iterations == enum.ONE
    assert rewrite.disable_tfg_optimizer
    # the passes that do change these graphs are untouched
    assert rewrite.remapping == rewrite.constant_folding == enum.DEFAULT
    for want, have in zip(tf.nest.flatten(expected), tf.nest.flatten(got), strict=True):
        assert want.numpy().tobytes() == have.numpy().tobytes()


def test_a_tensorflow_without_function_call_options_only_loses_speed(monkeypatch):
    from tensorflow.python.eager import context

    def missing(self):
        raise AttributeError("function_call_options")

    monkeypatch.setattr(context.Context, "function_call_options", property(missing))
    with pytest.warns(UserWarning, match="every Grappler pass"):
        assert compat.trim_graph_optimizer() is False
