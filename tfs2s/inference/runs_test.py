import shutil
import types

import pytest

from tfs2s.inference.runs import data_config, open_run


def test_open_run_reads_the_run(opened):
    run, source = opened
    assert run.topology.name == "T_A"
    assert run.inference_modalities == ("text",)
    assert run.training_modalities == ("text", "audio")
    assert run.dims == {"text": source.dims["text"]}
    assert run.max_seq_len == source.max_seq_len
    assert run.seed == 0


def test_missing_run_directory(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        open_run(tmp_path / "nope")


def test_directory_that_is_not_a_run(tmp_path):
    with pytest.raises(FileNotFoundError, match="no params.yaml"):
        open_run(tmp_path)


def test_half_written_run_is_refused(tiny_run, tmp_path):
    half = tmp_path / "half"
    half.mkdir()
    shutil.copy(f"{tiny_run}/params.yaml", half / "params.yaml")
    with pytest.raises(ValueError, match="half-written run.*no model.keras"):
        open_run(half)


def test_data_config_starts_from_the_run(opened):
    run, _ = opened
    assert data_config(run, {}) == run.data
    assert data_config(run, {"data.synthetic_segments": 99}).synthetic_segments == 99
    other = data_config(run, {"data.path": "/elsewhere"})
    assert other.path == "/elsewhere" and other.data_map is None and other.folds is None
    assert other.max_seq_len == run.max_seq_len
    with pytest.raises(ValueError, match="max_seq_len"):
        data_config(run, {"data.max_seq_len": run.max_seq_len + 1})
    with pytest.raises(ValueError, match="only data"):
        data_config(run, {"train.seed": 3})


def _fake_source(dims, max_seq_len):
    return types.SimpleNamespace(
        dims=dims, max_seq_len=max_seq_len, source="fake", modalities=tuple(dims)
    )


def test_check_source_names_modality_and_sizes(opened):
    run, source = opened
    text = source.dims["text"]
    with pytest.raises(ValueError, match=rf"'text' has {text + 1} features .* expects {text}"):
        run.check_source(_fake_source({"text": text + 1}, run.max_seq_len))
    with pytest.raises(ValueError, match=r"missing: \['text'\]"):
        run.check_source(_fake_source({"audio": 3}, run.max_seq_len))
    # audio is not read at inference: data without it is fine ...
    run.check_source(_fake_source({"text": text}, run.max_seq_len))
    # ... unless the caller needs it (a corruption study of the training modalities)
    with pytest.raises(ValueError, match=r"missing: \['audio'\]"):
        run.check_source(_fake_source({"text": text}, run.max_seq_len), extra=["audio"])
    with pytest.raises(ValueError, match="max_seq_len"):
        run.check_source(_fake_source({"text": text}, run.max_seq_len + 1))


def _copy_run(tiny_run, to):
    shutil.copytree(tiny_run, to)
    return to


def test_run_with_non_finite_weights_is_refused(tiny_run, tmp_path):
    import keras
    import numpy as np

    bad = _copy_run(tiny_run, tmp_path / "diverged")
    model = keras.saving.load_model(bad / "model.keras", compile=False)
    kernel = model.get_layer("regressor").get_layer("score").kernel
    value = kernel.numpy()
    value[0, 0] = np.nan
    kernel.assign(value)
    model.save(bad / "model.keras")
    with pytest.raises(
        ValueError, match=r"model.keras: weight '.*score/kernel' holds 1 non-finite"
    ):
        open_run(bad)


def test_run_mixing_two_runs_is_refused(tiny_run, tmp_path):
    mixed = _copy_run(tiny_run, tmp_path / "mixed")
    params = (mixed / "params.yaml").read_text()
    assert "max_seq_len: 5" in params
    (mixed / "params.yaml").write_text(params.replace("max_seq_len: 5", "max_seq_len: 7"))
    with pytest.raises(ValueError, match=r"disagree \(data.max_seq_len: 7 vs 5\).*mixes two runs"):
        open_run(mixed)
    (mixed / "params.yaml").write_text(params.replace("topology: T_A", "topology: A_T"))
    with pytest.raises(ValueError, match=r"disagree \('A_T' vs 'T_A'\)"):
        open_run(mixed)
    (mixed / "params.yaml").write_text(params)
    (mixed / "trained.json").unlink()
    with pytest.raises(ValueError, match="half-written run.*no trained.json"):
        open_run(mixed)
    (mixed / "trained.json").write_text("{")
    with pytest.raises(ValueError, match="trained.json is corrupt"):
        open_run(mixed)


def test_non_finite_scores_are_refused_naming_the_run(opened, monkeypatch):
    import numpy as np

    from tfs2s.inference.scoring import predictions

    run, source = opened
    real = run.predict_batch

    def one_nan(features, attention=False):
        out = real(features, attention=attention)
        out["sentiment"][1] = np.nan
        return out

    monkeypatch.setattr(run, "predict_batch", one_nan)
    with pytest.raises(ValueError, match=rf"run {run.path} gives non-finite scores .* 1 of"):
        predictions(run, source, "valid")
