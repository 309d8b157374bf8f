"""The training features of the recipes: optimizer settings, selection, modality dropout."""

import dataclasses

import keras
import numpy as np
import pytest

from tfs2s import modalities as M
from tfs2s.config import ModelConfig, TrainConfig
from tfs2s.topology import parse_topology
from tfs2s.training.trainer import Trainer

DIMS = {"text": 5, "audio": 4, "video": 3}
STEPS = 4
MODEL = ModelConfig(hidden=4, regressor_hidden=4)
TRAIN = TrainConfig(epochs=3, translator_epochs=1, batch_size=8, patience=3)


@pytest.fixture(scope="module")
def source():
    from tfs2s.data.pipeline import InMemorySource
    from tfs2s.data.synthetic import make_synthetic

    return InMemorySource(make_synthetic(segments=60, max_seq_len=STEPS, dims=DIMS))


def trainer(source, topology="baseline_TA", **train):
    cfg = dataclasses.replace(TRAIN, **train)
    return Trainer(parse_topology(topology), MODEL, cfg, source, run_eagerly=True)


def test_weight_decay_clipnorm_and_adamw_reach_every_phase_optimizer(source):
    t = trainer(source, "T_V", optimizer="adamw", weight_decay=0.01, clipnorm=0.5)
    assert len(t.phases) == 2
    for phase in t.phases:
        optimizer = phase.model.optimizer
        assert isinstance(optimizer, keras.optimizers.AdamW)
        assert (optimizer.weight_decay, optimizer.clipnorm) == (0.01, 0.5)
    plain = trainer(source).phases[0].model.optimizer
    assert isinstance(plain, keras.optimizers.Adam) and plain.clipnorm is None
    assert not plain.weight_decay


@pytest.mark.parametrize("metric, mode", [("mae", "min"), ("f1_2", "max")])
def test_regression_selects_on_the_chosen_valid_metric_and_restores_the_best(source, metric, mode):
    from tfs2s.training.metrics import sentiment_metrics
    from tfs2s.training.run import predict_split

    t = trainer(source, "T_V", select_metric=metric, patience=5, learning_rate=0.05)
    translation, regression = t.phases
    assert [c.monitor for c in t._selection(translation)] == ["val_loss"]
    *_, stopping = t._selection(regression)
    assert (stopping.monitor, stopping.mode) == (f"val_{metric}", mode)
    trained = t.train(verbose=0)
    rows = [r for r in trained.history if r["phase"] == "regression"]
    assert f"val_{metric}" not in next(r for r in trained.history if r["phase"] == "translation")
    scores = [r[f"val_{metric}"] for r in rows]
    best = min(scores) if mode == "min" else max(scores)
    pred = predict_split(t.sentiment_model, source, "valid", ("text",), 1024)
    final = sentiment_metrics(source.labels("valid"), pred)[metric]
    assert final == pytest.approx(best, abs=1e-6)


def first_batch(t, seed=0):
    dataset, _ = t._dataset("train", t.phases[-1], seed, training=True)
    inputs, _ = next(iter(dataset))
    return {k: np.asarray(v) for k, v in inputs.items()}


def test_modality_dropout_replaces_one_source_by_its_mean(source):
    kept = first_batch(trainer(source))
    dropped = first_batch(trainer(source, modality_dropout=0.99))
    stats = trainer(source).models.norm_stats
    mask = kept[M.MASK][..., None]
    replaced = {
        name: np.all(np.isclose(dropped[name], mask * np.asarray(stats[name]["mean"])), (1, 2))
        for name in ("text", "audio")
    }
    changed = {name: np.any(dropped[name] != kept[name], (1, 2)) for name in ("text", "audio")}
    # each example lost at most one modality (replaced by its train mean), most lost one
    assert not np.any(changed["text"] & changed["audio"])
    assert np.all(changed["text"] <= replaced["text"]) and np.all(
        changed["audio"] <= replaced["audio"]
    )
    assert np.mean(changed["text"] | changed["audio"]) > 0.8
    assert changed["text"].any() and changed["audio"].any()
    np.testing.assert_array_equal(dropped[M.MASK], kept[M.MASK])
    # valid batches and single-source models are never dropped
    t = trainer(source, modality_dropout=0.99)
    valid, _ = t._dataset("valid", t.phases[0], 0, training=False)
    v_inputs, _ = next(iter(valid))
    v_kept, _ = next(iter(trainer(source)._dataset("valid", t.phases[0], 0, training=False)[0]))
    np.testing.assert_array_equal(np.asarray(v_inputs["text"]), np.asarray(v_kept["text"]))
    single = first_batch(trainer(source, "baseline_T", modality_dropout=0.99))
    np.testing.assert_array_equal(
        single["text"], first_batch(trainer(source, "baseline_T"))["text"]
    )


@pytest.mark.parametrize("keep", ["text", "audio"])
def test_modality_dropout_keep_never_drops_the_kept_modality(source, keep):
    kept = first_batch(trainer(source, "baseline_TAV"))
    dropped = first_batch(
        trainer(source, "baseline_TAV", modality_dropout=0.99, modality_dropout_keep=keep)
    )
    changed = {n: np.any(dropped[n] != kept[n], (1, 2)) for n in ("text", "audio", "video")}
    others = [n for n in changed if n != keep]
    np.testing.assert_array_equal(dropped[keep], kept[keep])
    # the others are still dropped, one at a time, both of them for some examples
    assert not np.any(changed[others[0]] & changed[others[1]])
    assert np.mean(changed[others[0]] | changed[others[1]]) > 0.8
    assert changed[others[0]].any() and changed[others[1]].any()
    # with two joined modalities and one kept, the other is dropped at the full rate
    two = first_batch(
        trainer(source, "baseline_TA", modality_dropout=0.99, modality_dropout_keep="text")
    )
    plain = first_batch(trainer(source, "baseline_TA"))
    np.testing.assert_array_equal(two["text"], plain["text"])
    assert np.mean(np.any(two["audio"] != plain["audio"], (1, 2))) > 0.9
    # a model that does not join the kept modality gets no modality dropout
    av = first_batch(
        trainer(source, "baseline_AV", modality_dropout=0.99, modality_dropout_keep="text")
    )
    av_plain = first_batch(trainer(source, "baseline_AV"))
    for name in ("audio", "video"):
        np.testing.assert_array_equal(av[name], av_plain[name])
    assert np.any(
        first_batch(trainer(source, "baseline_AV", modality_dropout=0.99))["audio"]
        != av_plain["audio"]
    )


def test_a_multi_output_phase_traces_its_train_step_once(source):
    # A joint phase's compiled loss has one tracker per output. Were they created in
    # the first trace, tf.function would trace the whole train step a second time.
    t = Trainer(
        parse_topology("T_A"),
        MODEL,
        dataclasses.replace(TRAIN, mode="joint", cycle_weight=0.1, epochs=1),
        source,
    )
    (phase,) = t.phases
    assert len(phase.model.output) > 2
    traces = []
    step = phase.model.train_step

    def counted(data):
        traces.append(1)
        return step(data)

    phase.model.train_step = counted
    t.train(verbose=0)
    assert len(traces) == 1


def _weights(t):
    return [v.numpy() for part in t.models.parts for v in part.variables]


@pytest.mark.parametrize(
    "topology, model, seeds, eager",
    [
        # the sources beside the encoder's output; a new seed's encoder gives another
        # representation, which must be computed again
        ("concat_TA_V", {"source_skip": True}, (0, 1), False),
        # embed's second translation stage trains on encoder 1's output computed once
        # (eager: what is compared does not depend on tracing, shown by the line above)
        ("embed_TA_V", {}, (0,), True),
    ],
)
def test_a_frozen_encoder_regression_phase_trains_on_its_output_computed_once(
    source, topology, model, seeds, eager, monkeypatch
):
    model_cfg = dataclasses.replace(MODEL, unroll=True, **model)
    cfg = dataclasses.replace(TRAIN, translator_epochs=1, epochs=3, patience=1, learning_rate=0.03)
    cached = Trainer(parse_topology(topology), model_cfg, cfg, source, run_eagerly=eager)
    regression = cached.phases[-1]
    assert regression.model is cached.models.regressor_model()
    assert regression.representation is cached.models.representation_model()
    assert cached.phases[0].representation is None
    if len(cached.phases) == 3:
        stage = cached.phases[1]
        assert stage.model is cached.models.stage_translation_model(1)
        assert stage.representation is cached.models.encoding_model(1)
    runs = {}
    for seed in seeds:
        runs[seed] = (cached.train(seed=seed, verbose=0).history, _weights(cached))
    # the part itself is not compiled: a saved sentiment model must not carry a compile
    # config (naming tfs2s's loss) inside it, or loading it needs tfs2s.training
    saved = keras.saving.serialize_keras_object(cached.sentiment_model)
    assert not saved["config"]["regressor"].get("compile_config")
    monkeypatch.setattr(Trainer, "_can_cache_representation", lambda self: False)
    plain = Trainer(parse_topology(topology), model_cfg, cfg, source, run_eagerly=eager)
    assert all(phase.representation is None for phase in plain.phases)
    assert plain.phases[-1].model is plain.sentiment_model
    for seed in seeds:
        history = plain.train(seed=seed, verbose=0).history
        expected_history, expected_weights = runs[seed]
        assert [(r["phase"], r["epoch"]) for r in history] == [
            (r["phase"], r["epoch"]) for r in expected_history
        ]
        # the same function of the same batches, up to float rounding (Adam turns a
        # rounding-level gradient of a near-zero bias into a step of its own)
        for got, want in zip(history, expected_history, strict=True):
            assert got["loss"] == pytest.approx(want["loss"], abs=1e-5)
            assert got["val_loss"] == pytest.approx(want["val_loss"], abs=1e-5)
        for got, want in zip(_weights(plain), expected_weights, strict=True):
            np.testing.assert_allclose(got, want, atol=1e-3)


@pytest.mark.parametrize(
    "model, train",
    [
        ({"dropout": 0.1}, {}),
        ({"recurrent_dropout": 0.1}, {}),
        ({}, {"finetune_encoder": True}),
        ({}, {"modality_dropout": 0.5}),
        ({}, {"mode": "joint"}),
    ],
)
def test_the_regression_phase_runs_the_encoders_when_their_output_can_change(source, model, train):
    t = Trainer(
        parse_topology("concat_TA_V"),
        dataclasses.replace(MODEL, **model),
        dataclasses.replace(TRAIN, **train),
        source,
    )
    assert all(phase.representation is None for phase in t.phases)
    assert t.models.regressor_model() not in [phase.model for phase in t.phases]


def test_only_in_memory_data_without_a_strategy_computes_the_representation_once(source):
    import tensorflow as tf

    assert Trainer(parse_topology("T_V"), MODEL, TRAIN, source)._can_cache_representation()
    # TensorFlow's default strategy (train.py's ``auto`` on a machine without GPUs)
    default = tf.distribute.get_strategy()
    t = Trainer(parse_topology("T_V"), MODEL, TRAIN, source, strategy=default)
    assert t.phases[-1].representation is not None
    strategy = tf.distribute.OneDeviceStrategy("/cpu:0")
    t = Trainer(parse_topology("T_V"), MODEL, TRAIN, source, strategy=strategy)
    assert t.phases[-1].representation is None

    class Streamed:  # any other DataSource (a prepared cache streams from disk)
        def __init__(self, inner):
            self.inner = inner

        def __getattr__(self, name):
            return getattr(self.inner, name)

    t = Trainer(parse_topology("T_V"), MODEL, TRAIN, Streamed(source))
    assert t.phases[-1].representation is None
    # a baseline has no encoder to freeze
    assert (
        Trainer(parse_topology("baseline_TA"), MODEL, TRAIN, source).phases[0].representation
        is None
    )


@pytest.mark.parametrize(
    "model_keys",
    [{"layer_norm": True, "depth": 2, "regressor_depth": 2}],
    ids=["layer_norm and depth 2"],
)
def test_the_recommended_recipe_trains_with_each_model_key(source, model_keys):
    """Each model key the issue's recipe may draw on, on top of the recommended recipe
    (joint, XLA-compiled loops, source skip): the traced train step builds and learns."""
    from tfs2s.config import load_recipe

    recipe = load_recipe("recommended")
    model = dataclasses.replace(recipe.model, hidden=4, regressor_hidden=4, **model_keys)
    train = dataclasses.replace(recipe.train, epochs=2, batch_size=8, patience=2)
    t = Trainer(parse_topology("T_A"), model, train, source)
    before = [np.asarray(w).copy() for w in t.sentiment_model.weights]
    t.train(verbose=0)
    after = [np.asarray(w) for w in t.sentiment_model.weights]
    assert all(np.isfinite(w).all() for w in after)
    assert any(not np.array_equal(a, b) for a, b in zip(before, after, strict=True))


def test_ema_momentum_keeps_the_averaged_weights(source, select_metric="f1_2"):
    """With a momentum of 0.999 the average stays next to the weights after the first
    step (where Keras starts it), while training goes on from the raw weights (the same
    path as without averaging): a run that validates, selects and restores the averages
    ends much nearer its initial weights than the same run without."""

    def moved(**train):
        t = trainer(
            source, "baseline_T", epochs=6, patience=6, select_metric=select_metric, **train
        )
        t.reinitialize(0)
        start = [np.asarray(w).copy() for w in t.sentiment_model.trainable_weights]
        t.train(verbose=0)
        end = [np.asarray(w) for w in t.sentiment_model.trainable_weights]
        return sum(float(np.abs(a - b).sum()) for a, b in zip(start, end, strict=True))

    raw, averaged = moved(), moved(ema_momentum=0.999)
    # not kept, the averages would leave the run where the raw weights are (ratio 1)
    assert raw > 0 and averaged < 0.6 * raw, (averaged, raw)
