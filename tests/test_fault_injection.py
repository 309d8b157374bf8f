"""Fault injection (issue 11): bad input, refused re-runs, kills and divergence.

Each test gives one hostile input and checks the exact error or behaviour, and that
nothing already written was changed (the run directory is hashed before and after).
Most run ``tfs2s.cli.main`` in-process (a fresh process costs ~5 s of TensorFlow import);
a subprocess is used only where the behaviour needs one (traceback-free CLI output, the
logical CPU devices of ``--strategy mirrored``).
"""

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml
from conftest import RUN_FILES, TINY, run_cli

from tfs2s.cli import build_parser, config_from_args, main
from tfs2s.config import RunConfig

# The poster recipe: these tests name its phases (translation, then regression).
TRAIN = ["train", "--topology", "T_V", "--recipe", "poster", *TINY, "--quiet"]


def tree_hash(root: Path) -> str:
    """Names, bytes and modification times of every file under ``root``."""
    h = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        h.update(str(path.relative_to(root)).encode())
        if path.is_file():
            h.update(path.read_bytes())
            h.update(str(path.stat().st_mtime_ns).encode())
    return h.hexdigest()


def cli(capsys, *argv):
    """(exit code, stdout, stderr) of an in-process ``tfs2s`` command."""
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.startswith("tfs2s: error: ")]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


@pytest.fixture(scope="module")
def killed(tmp_path_factory):
    """The staging directory of a tiny T_V run killed after both phases were backed up
    (trained once for the module; tests copy it)."""
    import tfs2s.training.run as run_module

    root = tmp_path_factory.mktemp("killed")

    def kill(*args, **kwargs):
        raise KeyboardInterrupt  # as if killed just before the run was evaluated

    with pytest.MonkeyPatch.context() as m:
        m.setattr(run_module, "evaluate", kill)
        # Ctrl-C: one line and the shell's status, no traceback ...
        assert main([*TRAIN, "--out", str(root / "run")]) == 130
        # ... which --debug shows
        with pytest.raises(KeyboardInterrupt):
            main(["--debug", *TRAIN, "--out", str(root / "run")])
    assert not (root / "run").exists()
    return root / ".run.partial"


def resume_killed(killed: Path, parent: Path) -> Path:
    """Copy the killed run's staging beside ``parent/run``; returns that run directory."""
    shutil.copytree(killed, parent / ".run.partial")
    return parent / "run"


@pytest.fixture(scope="module")
def finished_run(killed, tmp_path_factory):
    """The killed run, finished by the same command (resumed from its backups)."""
    out = resume_killed(killed, tmp_path_factory.mktemp("finished"))
    assert main([*TRAIN, "--out", str(out)]) == 0
    return out


# --------------------------------------------------------------- item 2: run directories


def test_a_finished_run_is_published_whole_and_records_no_trust(finished_run):
    assert {p.name for p in finished_run.iterdir()} == RUN_FILES
    assert not (finished_run.parent / ".run.partial").exists()
    params = yaml.safe_load((finished_run / "params.yaml").read_text())
    assert "trust_pickle" not in params["data"]


def test_a_rerun_with_other_settings_is_refused_and_touches_nothing(finished_run, capsys):
    before = tree_hash(finished_run.parent)
    code, _, err = cli(capsys, *TRAIN, "--set", "data.max_seq_len=10", "--out", finished_run)
    assert code == 2
    assert one_error_line(err) == (
        f"tfs2s: error: run directory {finished_run} already holds a finished run; pass "
        "--overwrite to replace it whole, or choose another --out"
    )
    assert tree_hash(finished_run.parent) == before


def test_a_non_run_directory_is_never_replaced(tmp_path, capsys):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    before = tree_hash(tmp_path)
    code, _, err = cli(capsys, *TRAIN, "--overwrite", "--out", tmp_path / "mine")
    assert code == 2
    assert "is not empty and holds no tfs2s run" in one_error_line(err)
    assert tree_hash(tmp_path) == before


def test_overwrite_replaces_the_run_whole(finished_run, tmp_path, capsys):
    out = tmp_path / "run"
    shutil.copytree(finished_run, out)
    stale = out / "logs" / "T_A_translation_1" / "events.stale"
    stale.parent.mkdir(parents=True)
    stale.write_text("another topology's logs")
    code, _, err = cli(
        capsys, "train", "--topology", "baseline_T", *TINY, "--quiet", "--overwrite", "--out", out
    )
    assert code == 0, err
    assert not stale.exists()
    assert not (out / "translator.keras").exists()  # baseline: no translator
    assert yaml.safe_load((out / "params.yaml").read_text())["topology"] == "baseline_T"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]  # no staging/old left


def test_a_killed_run_resumes_with_the_same_command_and_says_so(killed, tmp_path, capsys):
    # frozen encoder, no dropout: the regression phase trains the regressor alone on the
    # encoder's output computed once (its model is T_V_regressor)
    assert (killed / "backup" / "T_V_regressor" / "training_metadata.json").is_file()
    out = resume_killed(killed, tmp_path)
    code, stdout, err = cli(capsys, *TRAIN, "--out", out)
    assert code == 0, err
    assert "phase T_V_regressor: finished before the restart, restored" in stdout
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["resumed"] == [
        {"phase": "T_V_translation_1", "after_epoch": 1, "phase_finished": True},
        {"phase": "T_V_regressor", "after_epoch": 1, "phase_finished": True},
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]
    assert not (out / "backup").exists()


def test_a_corrupt_backup_names_the_file(killed, tmp_path, capsys):
    out = resume_killed(killed, tmp_path)
    weights = tmp_path / ".run.partial" / "backup" / "T_V_translation_1" / "latest.weights.h5"
    weights.write_bytes(weights.read_bytes()[:200])  # truncated
    code, _, err = cli(capsys, *TRAIN, "--out", out)
    assert code == 2
    line = one_error_line(err)
    assert f"{weights}: cannot restore this training backup" in line
    assert not out.exists()


# ---------------------------------------------------------------- weak spots: training


def test_diverged_training_stops_naming_the_phase_and_writes_no_model(tmp_path, capsys):
    out = tmp_path / "run"
    code, _, err = cli(capsys, *TRAIN, "--set", "train.learning_rate=1e38", "--out", out)
    assert code == 2
    line = one_error_line(err)
    assert line.startswith("tfs2s: error: training diverged in phase T_V_translation_1, epoch 1"), (
        line
    )
    assert "loss is nan; no model was written" in line
    assert list(tmp_path.iterdir()) == []  # neither a run directory nor a staging one


def test_zero_epochs_is_an_error(tmp_path, capsys):
    code, _, err = cli(capsys, *TRAIN, "--epochs", "0", "--out", tmp_path / "run")
    assert code == 2
    assert one_error_line(err) == "tfs2s: error: --epochs: expected at least 1, found 0"
    with pytest.raises(ValueError, match="train.epochs: expected a value > 0, found 0"):
        RunConfig().replace(**{"train.epochs": 0})
    assert list(tmp_path.iterdir()) == []


def test_the_identity_translation_in_any_order_is_refused(tmp_path, capsys):
    code, _, err = cli(
        capsys, "train", "--topology", "concat_TV_concat_VT", *TINY, "--out", tmp_path / "r"
    )
    assert code == 2
    assert "source and target are the same modalities" in one_error_line(err)


# ----------------------------------------------------------------- weak spots: trust


def _pickle_file(tmp_path: Path) -> Path:
    # A pickle that would run code when loaded: it must never be opened without the flag.
    path = tmp_path / "aligned.pkl"
    path.write_bytes(b"cos\nsystem\n(S'touch " + str(tmp_path / "pwned").encode() + b"'\ntR.")
    return path


def test_a_config_file_cannot_grant_trust_to_unpickle(tmp_path, capsys):
    pkl = _pickle_file(tmp_path)
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump({"data": {"trust_pickle": True, "path": str(pkl)}}))
    code, _, err = cli(capsys, *TRAIN, "--config", config, "--out", tmp_path / "r1")
    assert code == 2
    assert "data.trust_pickle in" in err and "is ignored" in err
    assert "--trust-pickle" in one_error_line(err)
    code, _, err = cli(
        capsys, *TRAIN, "--set", "data.trust_pickle=true", "--data", pkl, "--out", tmp_path / "r2"
    )
    assert code == 2 and "--trust-pickle" in one_error_line(err)
    assert not (tmp_path / "pwned").exists()


def test_trust_is_not_tunable(tmp_path):
    from tfs2s.tuning.space import load_space

    space = tmp_path / "space.yaml"
    space.write_text("data.trust_pickle: {type: boolean}\n")
    with pytest.raises(ValueError, match="'data.trust_pickle' is not a tunable config key"):
        load_space(space)


def test_a_key_set_on_the_command_line_is_not_searched(capsys):
    from tfs2s.tuning.cli import command_line_keys
    from tfs2s.tuning.space import load_space, without_fixed

    args = build_parser().parse_args(
        ["tune", "--topology", "T_V", "--set", "model.regressor_hidden=4", "--batch-size", "8"]
    )
    fixed = command_line_keys(args, config_from_args(args, topology="T_V"))
    assert fixed == {"model.regressor_hidden": 4, "train.batch_size": 8}
    space = without_fixed(load_space(None), fixed)
    assert "model.regressor_hidden" not in space and "train.batch_size" not in space
    assert "model.hidden" in space
    out = capsys.readouterr().out
    assert "model.regressor_hidden is fixed at 4 (set on the command line)" in out


# ------------------------------------------------------------- item 4: every reader


@pytest.fixture
def sdk_dir(tmp_path):
    from tfs2s.data.testing import tiny_sdk_dir

    info = tiny_sdk_dir(tmp_path / "sdk", {f"v{i}": [3, 2] for i in range(6)})
    return tmp_path / "sdk", info["files"]


def _flip_object_headers(path: Path) -> None:
    """Flip the bytes of every HDF5 metadata signature (object headers, B-trees, heaps,
    symbol tables) past the superblock: the file opens as HDF5 but its objects do not."""
    raw = bytearray(path.read_bytes())
    flipped = 0
    for signature in (b"OHDR", b"TREE", b"HEAP", b"SNOD", b"GCOL"):
        at = raw.find(signature, 8)
        while at >= 0:
            raw[at : at + 4] = bytes(x ^ 0xFF for x in raw[at : at + 4])
            flipped += 1
            at = raw.find(signature, at + 4)
    assert flipped
    path.write_bytes(bytes(raw))


@pytest.mark.parametrize("damage", ["truncated", "flipped"])
def test_a_corrupt_csd_is_one_line_naming_the_file(sdk_dir, damage, capsys):
    directory, files = sdk_dir
    target = Path(files["audio"])
    if damage == "truncated":
        target.write_bytes(target.read_bytes()[: target.stat().st_size // 2])
    else:
        _flip_object_headers(target)
    code, _, err = cli(capsys, "data", "inspect", "--data", directory)
    assert code == 2
    line = one_error_line(err)
    assert line.startswith(f"tfs2s: error: {target}: cannot read it as a CMU-SDK"), line


def test_debug_shows_the_traceback(sdk_dir):
    directory, files = sdk_dir
    target = Path(files["audio"])
    target.write_bytes(target.read_bytes()[:300])
    with pytest.raises(ValueError, match="cannot read it as a CMU-SDK"):
        main(["data", "inspect", "--data", str(directory), "--debug"])


def test_a_truncated_trusted_pickle_names_the_file(tmp_path, capsys):
    from tfs2s.data.testing import write_pickle

    path = write_pickle(tmp_path / "a.pkl", {"train": {"labels": np.zeros(3)}})
    path.write_bytes(path.read_bytes()[:20])
    code, _, err = cli(capsys, "data", "inspect", "--data", path, "--trust-pickle")
    assert code == 2
    assert one_error_line(err).startswith(f"tfs2s: error: {path}: cannot unpickle: ")


@pytest.mark.parametrize("kind", ["binary", "directory"])
def test_a_bad_config_file_names_it(tmp_path, kind, capsys):
    config = tmp_path / "c.yaml"
    if kind == "binary":
        config.write_bytes(bytes(range(256)) * 4)
        expected = f"tfs2s: error: config file {config}: not a text (UTF-8) file"
    else:
        config.mkdir()
        expected = f"tfs2s: error: config file {config}: expected a YAML file, found a directory"
    code, _, err = cli(capsys, *TRAIN, "--config", config, "--out", tmp_path / "r")
    assert code == 2
    assert one_error_line(err).startswith(expected)


def test_folds_given_as_a_directory_names_it(sdk_dir, tmp_path, capsys):
    directory, _ = sdk_dir
    code, _, err = cli(capsys, "data", "inspect", "--data", directory, "--folds", tmp_path)
    assert code == 2
    assert one_error_line(err) == (
        f"tfs2s: error: folds file {tmp_path}: expected a JSON file, found a directory"
    )


def test_a_run_refused_before_its_first_epoch_leaves_nothing_behind(sdk_dir, tmp_path, capsys):
    directory, _ = sdk_dir
    folds = tmp_path / "folds.json"
    folds.write_text(json.dumps({"train": [], "valid": ["v0", "v1"], "test": ["v2"]}))
    out = tmp_path / "runs" / "empty"
    code, _, err = cli(capsys, *TRAIN, "--data", directory, "--folds", folds, "--out", out)
    assert code == 2
    assert "train" in one_error_line(err) and "empty" in one_error_line(err)
    # not even the hidden staging directory with its params.yaml
    assert list((tmp_path / "runs").iterdir()) == []


def test_a_corrupt_cache_meta_names_the_file(tmp_path, capsys):
    cache = tmp_path / "cache"
    code, _, err = cli(
        capsys, "data", "prepare", "--set", "data.synthetic_segments=60", "--out", cache
    )
    assert code == 0, err
    (cache / "meta.json").write_bytes(b"\xff\xfe{garbage")
    code, _, err = cli(capsys, "data", "inspect", "--data", cache)
    assert code == 2
    assert one_error_line(err).startswith(f"tfs2s: error: {cache / 'meta.json'}: not valid JSON")


def test_a_truncated_cache_shard_names_the_file(tmp_path, capsys):
    cache = tmp_path / "cache"
    assert (
        cli(capsys, "data", "prepare", "--set", "data.synthetic_segments=60", "--out", cache)[0]
        == 0
    )
    shard = next(cache.glob("train-*.tfrecord"))
    size = shard.stat().st_size
    shard.write_bytes(shard.read_bytes()[: size // 2])
    code, _, err = cli(capsys, *TRAIN, "--data", cache, "--out", tmp_path / "run")
    assert code == 2
    assert one_error_line(err) == (
        f"tfs2s: error: {shard}: expected {size} bytes (as written by `tfs2s data prepare`), "
        f"found {size // 2}; the shard is damaged: prepare the cache again"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache"]


def test_prepare_onto_a_non_cache_directory_is_a_clear_error(tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "thesis.tex").write_text("keep me")
    before = tree_hash(tmp_path)
    for extra in ([], ["--overwrite"]):
        code, _, err = cli(
            capsys, "data", "prepare", "--set", "data.synthetic_segments=60", "--out", out, *extra
        )
        assert code == 2
        assert str(out) in one_error_line(err)
    assert tree_hash(tmp_path) == before


def test_the_cli_prints_no_traceback(tmp_path):
    config = tmp_path / "c.yaml"
    config.mkdir()
    res = run_cli(["train.py", "--topology", "T_V", "--config", str(config)])
    assert res.returncode == 2
    assert res.stderr.strip().splitlines()[-1] == (
        f"tfs2s: error: config file {config}: expected a YAML file, found a directory"
    )
    assert "Traceback" not in res.stderr


# --------------------------------------------------------------- features and paper


def test_a_huge_finite_feature_is_refused_not_zeroed_and_inspect_reports_it():
    from tfs2s.data.dataset import feature_stats
    from tfs2s.data.inspect import inspect_data
    from tfs2s.data.synthetic import make_synthetic

    data = make_synthetic(segments=80)
    train = data.splits["train"]
    audio = train.features["audio"]
    real = train.mask().astype(bool)
    audio[real, 0] = np.where(np.arange(real.sum()) % 2, 3e38, -3e38)
    audio[real, 1] = 2.5  # constant
    with pytest.raises(ValueError, match=r"feature audio\[0\] of the train split: variance"):
        feature_stats(train)
    report = inspect_data(data)["train_features"]["audio"]
    assert report["too_large"] == [0]
    assert report["constant"] == [1]
    assert report["nonfinite"] == []


def _fake_run(out: Path, name: str, seed: int, cfg, f1_2: float):
    from tfs2s.config import dump_yaml
    from tfs2s.experiments.paper import run_dir
    from tfs2s.training.metrics import METRIC_KEYS

    path = Path(run_dir(str(out), name, seed))
    path.mkdir(parents=True)
    values = dict.fromkeys(METRIC_KEYS, 0.5) | {"f1_2": f1_2}
    (path / "metrics.json").write_text(json.dumps({"test": values, "valid": values}))
    dump_yaml(cfg.replace(**{"topology": name, "train.seed": seed}), path / "params.yaml")
    return path


def test_paper_tables_aggregate_only_the_requested_config_and_seeds(tmp_path, capsys):
    argv = ["experiments", "paper", "--tables", "unimodal", *TINY, "--quiet"]
    args = build_parser().parse_args([*argv, "--out", str(tmp_path)])
    cfg = config_from_args(args)
    for name in ("baseline_T", "baseline_A", "baseline_V"):
        _fake_run(tmp_path, name, 0, cfg, f1_2=0.6)
    extra_seed = _fake_run(tmp_path, "baseline_T", 1, cfg, f1_2=0.9)
    other = _fake_run(tmp_path, "baseline_T", 2, cfg.replace(**{"train.epochs": 3}), 0.1)
    code, out, err = cli(capsys, *argv, "--seeds", "1", "--out", tmp_path)
    assert code == 0, err
    assert f"ignored {extra_seed}: seed 1 was not asked for" in out
    assert f"ignored {other}: seed 2 was not asked for" in out
    md = (tmp_path / "results.md").read_text()
    row = next(line for line in md.splitlines() if "| Text (T) |" in line)
    assert "| Text (T) | 1 |" in row and "| 0.60±0.00 (" in row  # seed 1 (0.9) left out
    # A requested seed trained with another config is refused, not mixed in.
    code, _, err = cli(capsys, *argv, "--seeds", "3", "--out", tmp_path)
    assert code == 2
    assert f"{other} holds a finished run with a different config" in one_error_line(err)


# --------------------------------------------------------------- items 5 and 6


def test_a_single_shard_cache_streams_several_shuffled_epochs(tmp_path):
    from tfs2s.data.cache import CachedSource, prepare
    from tfs2s.data.synthetic import make_synthetic

    data = make_synthetic(segments=60)
    prepare(data, tmp_path / "c")  # MOSI-sized splits fit in one shard
    source = CachedSource(tmp_path / "c")
    assert len(source.meta["splits"]["train"]["shards"]) == 1
    n = source.num_examples("train")
    ds = source.dataset("train", ["text"], 8, shuffle=True, seed=0, repeat=True)
    steps = -(-n // 8)
    labels = [y.numpy() for _, y in ds.take(2 * steps)]
    assert sum(len(y) for y in labels) == 2 * n


# The same crash path at the default batch size is in the default run:
# tests/test_readme_paths.py::test_mirrored_on_two_logical_cpus_at_the_default_batch
# (3 batches of 64, an epoch per compiled call, two logical CPUs).
@pytest.mark.slow
def test_mirrored_two_cpus_trains_several_batches_per_epoch(tmp_path):
    # ~6 batches of 16 in the epoch: Keras' multi-step loop (a whole epoch per call)
    # crashed on the distributed iterator in the first epoch.
    out = tmp_path / "run"
    res = run_cli(
        [
            "train.py",
            "--topology",
            "baseline_T",
            *TINY,
            "--quiet",
            "--strategy",
            "mirrored",
            "--cpu-devices",
            "2",
            "--out",
            str(out),
        ]
    )
    assert res.returncode == 0, res.stderr[-3000:]
    assert len((out / "history.csv").read_text().splitlines()) == 2  # header + 1 epoch
    metrics = json.loads((out / "metrics.json").read_text())
    assert np.isfinite(metrics["valid"]["mae"])
