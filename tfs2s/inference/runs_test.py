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
