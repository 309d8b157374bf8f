import dataclasses

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfs2s import Tfs2sWarning
from tfs2s import modalities as M
from tfs2s.config import ModelConfig, TrainConfig
from tfs2s.topology import PAPER_TOPOLOGIES, parse_topology
from tfs2s.training.fit import TrainedModel, Trainer, train_model

DIMS = {"text": 5, "audio": 4, "video": 3}
STEPS = 4
TINY_MODEL = ModelConfig(hidden=4, regressor_hidden=4)
TINY_TRAIN = TrainConfig(epochs=1, translator_epochs=1, batch_size=2, patience=1)


class ArrayData:
    """A stand-in of the tf.data pipeline's data source over in-memory arrays."""

    def __init__(self, examples=(8, 4, 4), dims=DIMS, steps=STEPS, seed=0):
        rng = np.random.default_rng(seed)
        self.dims = dict(dims)
        self.max_seq_len = steps
        self.splits = {}
        for split, n in zip(("train", "valid", "test"), examples, strict=True):
            lengths = rng.integers(1, steps + 1, size=n)
            mask = (np.arange(steps)[None, :] < lengths[:, None]).astype(np.float32)
            features = {
                name: (rng.normal(1.0, 2.0, (n, steps, d)) * mask[..., None]).astype(np.float32)
                for name, d in self.dims.items()
            }
            labels = rng.uniform(-3, 3, n).astype(np.float32)
            self.splits[split] = (features, mask, labels)

    def require(self, names, what):
        missing = [n for n in names if n not in self.dims]
        if missing:
            raise ValueError(f"{what} needs {missing}")

    def num_examples(self, split):
        return len(self.splits[split][2])

    def nonempty_splits(self):
        return [s for s in self.splits if self.num_examples(s) > 0]

    def norm_stats(self):
        features, mask, _ = self.splits["train"]
        words = mask.astype(bool)
        return {
            n: (x[words].mean(0), np.maximum(x[words].var(0), 1e-6)) for n, x in features.items()
        }

    def dataset(
        self, split, names, batch_size, shuffle=False, seed=0, drop_remainder=False, repeat=False
    ):
        features, mask, labels = self.splits[split]
        inputs = {n: features[n] for n in names}
        inputs[M.MASK] = mask
        ds = tf.data.Dataset.from_tensor_slices((inputs, labels))
        if shuffle:
            ds = ds.shuffle(len(labels), seed=seed, reshuffle_each_iteration=True)
        ds = ds.batch(batch_size, drop_remainder=drop_remainder)
        return ds.repeat() if repeat else ds


def batch_of(data, names, split="test"):
    features, mask, _ = data.splits[split]
    out = {n: features[n] for n in names}
    out[M.MASK] = mask
    return out


def encoder_weights(trainer):
    return [w.copy() for e in trainer.models.encoders for w in e.get_weights()]


def eager_trainer(name, cfg=TINY_TRAIN, data=None):
    """A trainer whose steps run eagerly: tracing would dominate these tiny tests."""
    return Trainer(parse_topology(name), TINY_MODEL, cfg, data or ArrayData(), run_eagerly=True)


#: One topology of each shape: baselines over one and several modalities, seq2seq from one
#: and from joined sources to one and to joined targets, and a hierarchy. The other rows
#: train in the slow set; the default run builds every row
#: (test_every_paper_topology_builds_its_inference_models).
TRAINED_BY_DEFAULT = (
    "baseline_T",
    "baseline_TAV",
    "T_V",
    "concat_TV_A",
    "T_concat_AV",
    "concat_TA_concat_TV",
    "embed_AV_T",
)


@pytest.mark.parametrize("name", PAPER_TOPOLOGIES)
def test_every_paper_topology_builds_its_inference_models(name):
    topology = parse_topology(name)
    data = ArrayData(examples=(4, 2, 2))
    trainer = eager_trainer(name, data=data)
    assert set(trainer.sentiment_model.input) == {*topology.inference_modalities, M.MASK}
    batch = batch_of(data, topology.inference_modalities)
    out = trainer.sentiment_model(batch, training=False)
    assert out["sentiment"].shape == (2,) and out["attention"].shape == (2, STEPS)
    if topology.is_baseline:
        assert trainer.translators == []
    else:
        (translator,) = trainer.translators
        target_dim = sum(DIMS[M.name_of(c)] for c in topology.target)
        assert translator(batch, training=False)["translation"].shape == (2, STEPS, target_dim)


@pytest.mark.parametrize(
    "name",
    [
        n if n in TRAINED_BY_DEFAULT else pytest.param(n, marks=pytest.mark.slow)
        for n in PAPER_TOPOLOGIES
    ],
)
def test_every_paper_topology_trains_and_predicts(name):
    topology = parse_topology(name)
    data = ArrayData(examples=(4, 2, 2))
    trained = eager_trainer(name, data=data).train(verbose=0)
    assert set(trained.sentiment_model.input) == {*topology.inference_modalities, M.MASK}
    batch = batch_of(data, topology.inference_modalities)
    sentiment = trained.sentiment_model.predict(batch, verbose=0)["sentiment"]
    assert sentiment.shape == (2,) and np.isfinite(sentiment).all()
    phases = {row["phase"] for row in trained.history}
    if topology.is_baseline:
        assert phases == {"regression"} and trained.translators == []
    else:
        assert len(trained.translators) == 1
        target_dim = sum(DIMS[M.name_of(c)] for c in topology.target)
        out = trained.translators[0].predict(batch, verbose=0)["translation"]
        assert out.shape == (2, STEPS, target_dim)


def test_history_rows_and_early_stopping_restores_best():
    data = ArrayData()
    cfg = dataclasses.replace(
        TINY_TRAIN, epochs=3, translator_epochs=2, patience=0, learning_rate=0.05
    )
    trained = eager_trainer("T_V", cfg, data).train(verbose=0)
    for row in trained.history:
        assert set(row) == {"phase", "epoch", "loss", "val_loss"}
        assert np.isfinite(row["loss"]) and np.isfinite(row["val_loss"])
    assert [r["phase"] for r in trained.history][0] == "translation"
    regression = [r for r in trained.history if r["phase"] == "regression"]
    best = min(r["val_loss"] for r in regression)
    valid = trained.sentiment_model.evaluate(
        data.dataset("valid", ("text",), 2).map(lambda f, y: (f, {"sentiment": y})),
        verbose=0,
        return_dict=True,
    )
    np.testing.assert_allclose(valid["loss"], best, rtol=1e-5)


def test_no_valid_split_trains_every_epoch():
    data = ArrayData(examples=(4, 0, 2))
    cfg = dataclasses.replace(TINY_TRAIN, epochs=2, patience=0)
    with pytest.warns(Tfs2sWarning, match=r"no valid split: no epoch is selected .*train.epochs=2"):
        trained = train_model(parse_topology("baseline_A"), TINY_MODEL, cfg, data, verbose=0)
    assert [(r["epoch"], r["val_loss"]) for r in trained.history] == [(1, None), (2, None)]


@pytest.mark.parametrize("finetune", [False, True])
def test_two_phase_freezes_encoders_unless_finetuning(finetune):
    cfg = dataclasses.replace(TINY_TRAIN, learning_rate=0.05, finetune_encoder=finetune)
    trainer = eager_trainer("embed_AV_T", cfg, ArrayData(examples=(4, 2, 2)))
    *translation, regression = trainer.phases
    assert [p.name for p in trainer.phases][-1] == "regression"
    for phase in translation:
        trainer._fit(phase, 0, [], 0, None)
    before = encoder_weights(trainer)
    trainer._fit(regression, 0, [], 0, None)
    same = all(np.array_equal(a, b) for a, b in zip(before, encoder_weights(trainer), strict=True))
    assert same != finetune


def test_hierarchical_stage_two_freezes_stage_one_encoder():
    cfg = dataclasses.replace(TINY_TRAIN, learning_rate=0.05)
    trainer = eager_trainer("embed_AV_T", cfg, ArrayData(examples=(4, 2, 2)))
    first, second = trainer.phases[0], trainer.phases[1]
    assert (first.name, second.name) == ("translation_1", "translation_2")
    trainer._fit(first, 0, [], 0, None)
    stage_one = [w.copy() for w in trainer.models.encoders[0].get_weights()]
    stage_two = [w.copy() for w in trainer.models.encoders[1].get_weights()]
    trainer._fit(second, 0, [], 0, None)
    for a, b in zip(stage_one, trainer.models.encoders[0].get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    assert any(
        not np.array_equal(a, b)
        for a, b in zip(stage_two, trainer.models.encoders[1].get_weights(), strict=True)
    )


def test_hierarchical_model_reads_its_source_alone():
    data = ArrayData(examples=(4, 2, 4))
    trained = eager_trainer("embed_AV_T", data=data).train(verbose=0)
    assert set(trained.sentiment_model.input) == {"audio", M.MASK}
    assert set(trained.translators[0].input) == {"audio", M.MASK}
    batch = batch_of(data, ("audio",))
    assert trained.sentiment_model.predict(batch, verbose=0)["sentiment"].shape == (4,)
    assert trained.translators[0].predict(batch, verbose=0)["translation"].shape == (4, STEPS, 5)


@pytest.mark.parametrize("name", ["T_V", "embed_AV_T"])
def test_joint_mode_with_cycle_loss_trains(name):
    cfg = dataclasses.replace(TINY_TRAIN, mode="joint", epochs=2, cycle_weight=0.5)
    trainer = eager_trainer(name, cfg, ArrayData(examples=(4, 2, 2)))
    joint = trainer.phases[0].model
    assert "cycle" in joint.output
    before = [w.copy() for w in trainer.models.cycle_encoder.get_weights()]
    trained = trainer.train(verbose=0)
    assert [r["phase"] for r in trained.history] == ["joint", "joint"]
    assert all(np.isfinite(r["loss"]) for r in trained.history)
    assert any(
        not np.array_equal(a, b)
        for a, b in zip(before, trainer.models.cycle_encoder.get_weights(), strict=True)
    )


def test_joint_mode_without_cycle_has_no_cycle_output():
    cfg = dataclasses.replace(TINY_TRAIN, mode="joint")
    trainer = eager_trainer("T_A", cfg)
    assert set(trainer.phases[0].model.output) == {"sentiment", "translation"}
    assert trainer.models.cycle_encoder is None


def test_reused_trainer_matches_a_fresh_one_for_the_same_seed():
    data = ArrayData(examples=(4, 2, 2))
    cfg = dataclasses.replace(TINY_TRAIN, seed=3)
    topology = parse_topology("T_V")
    fresh = train_model(topology, TINY_MODEL, cfg, data, verbose=0).history
    trainer = Trainer(topology, TINY_MODEL, dataclasses.replace(cfg, seed=5), data)
    trainer.train(verbose=0)
    reused_model = trainer.train(seed=3, verbose=0)
    assert reused_model.train_cfg.seed == 3
    reused = reused_model.history
    assert [r["loss"] for r in reused] == [r["loss"] for r in fresh]
    assert [r["val_loss"] for r in reused] == [r["val_loss"] for r in fresh]


def test_a_whole_epoch_per_call_trains_like_one_batch_per_call():
    data = ArrayData(examples=(12, 4, 4))  # batch 2: 6 steps per epoch
    cfg = dataclasses.replace(TINY_TRAIN, epochs=2, translator_epochs=2, patience=5, seed=1)
    # one phase is enough: every phase's fit takes the same steps_per_execution rule
    topology = parse_topology("baseline_T")
    histories = {}
    for per_call, expected in ((0, 6), (1, 1), (4, 2)):  # 4 -> gcd(4, 6) = 2
        trainer = Trainer(
            topology, TINY_MODEL, dataclasses.replace(cfg, steps_per_execution=per_call), data
        )
        histories[per_call] = trainer.train(verbose=0).history
        assert [p.model.steps_per_execution for p in trainer.phases] == [expected]
    for per_call in (1, 4):
        for got, want in zip(histories[per_call], histories[0], strict=True):
            assert got["phase"] == want["phase"] and got["epoch"] == want["epoch"]
            np.testing.assert_allclose(got["loss"], want["loss"], rtol=1e-5)
            np.testing.assert_allclose(got["val_loss"], want["val_loss"], rtol=1e-5)


def test_save_and_load_round_trip(tmp_path):
    data = ArrayData()
    trained = eager_trainer("T_V", data=data).train(verbose=0)
    batch = batch_of(data, ("text",))
    expected = trained.sentiment_model.predict(batch, verbose=0)["sentiment"]
    expected_translation = trained.translators[0].predict(batch, verbose=0)["translation"]
    trained.save(tmp_path)
    assert {p.name for p in tmp_path.iterdir()} >= {"model.keras", "translator.keras"}
    loaded = TrainedModel.load(tmp_path)
    assert loaded.topology.name == "T_V" and loaded.history == trained.history
    np.testing.assert_allclose(
        loaded.sentiment_model.predict(batch, verbose=0)["sentiment"],
        expected,
        rtol=1e-5,
        atol=1e-6,
    )
    np.testing.assert_allclose(
        loaded.translators[0].predict(batch, verbose=0)["translation"],
        expected_translation,
        rtol=1e-5,
        atol=1e-5,
    )


def test_strategy_scope_builds_and_trains():
    strategy = tf.distribute.OneDeviceStrategy("/cpu:0")
    trainer = Trainer(
        parse_topology("A_V"),
        TINY_MODEL,
        TINY_TRAIN,
        ArrayData(),
        strategy=strategy,
        run_eagerly=True,
    )
    trained = trainer.train(verbose=0)
    assert isinstance(trained.sentiment_model, keras.Model)
    assert all(np.isfinite(row["loss"]) for row in trained.history)


def test_trains_on_the_real_pipeline():
    from tfs2s.data.pipeline import InMemorySource
    from tfs2s.data.synthetic import make_synthetic

    source = InMemorySource(make_synthetic(segments=24, max_seq_len=STEPS, dims=DIMS))
    trained = eager_trainer("embed_TV_A", data=source).train(verbose=0)
    assert {r["phase"] for r in trained.history} == {"translation_1", "translation_2", "regression"}
    assert all(np.isfinite(r["loss"]) and np.isfinite(r["val_loss"]) for r in trained.history)


def test_unknown_mode_and_missing_modality_are_refused():
    with pytest.raises(ValueError, match="train.mode"):
        Trainer(
            parse_topology("T_V"),
            TINY_MODEL,
            dataclasses.replace(TINY_TRAIN, mode="x"),
            ArrayData(),
        )
    with pytest.raises(ValueError, match="video"):
        Trainer(
            parse_topology("T_V"), TINY_MODEL, TINY_TRAIN, ArrayData(dims={"text": 5, "audio": 4})
        )
