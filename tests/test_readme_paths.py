"""Every training path the README and docs/ show, from the command line, at the default
batch size (the recommended recipe's 64 for train.py and tune, the poster recipe's 32 for
the paper runner) with several batches per epoch.

Tiny one-batch runs hid two crashes that users met at the defaults: a whole epoch per
compiled call under ``--strategy mirrored``, and a one-shard prepared cache. These runs keep
the defaults that matter (batch size, ``train.steps_per_execution``, shard layout) and cut
only what does not change the code path: 400 synthetic segments (233 train = 3 batches of
64 or 7 of 32, the last one odd so it splits unevenly over two replicas), 5 words per
segment (the unrolled LSTMs' graphs, and so their tracing, grow with it), 4 hidden units,
one epoch.

The README's quickstart and its joint-mode example take one path (the recommended recipe
trains jointly with a cycle loss; the example only sets its weight), so one run of the
example serves both, and the export reads that run. Likewise one run trains from the
prepared cache under ``--strategy mirrored``: both crashes' paths at once.

The paths are background jobs (``BACKGROUND_JOBS``, see ``tests/conftest.py``'s
``Background``): fresh processes that start as soon as the tests are collected and run
beside the in-process tests; each test here waits for the outcome of its own path.
"""

import csv
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import yaml
from conftest import BACKGROUND, ROOT, VERSION_FILES

from tfs2s.config import load_recipe
from tfs2s.training.metrics import METRIC_KEYS

SMALL = [
    "--set",
    "data.synthetic_segments=400",
    "--set",
    "model.hidden=4",
    "--set",
    "model.regressor_hidden=4",
    "--set",
    "data.max_seq_len=5",
    "--epochs",
    "1",
]
SPACE = """\
model.hidden: {type: choice, values: [4, 6]}
model.regressor_hidden: {type: choice, values: [4]}
model.depth: null
train.batch_size: null
train.learning_rate: null
"""


def _steps(name: str, work: Path) -> list[list[str]]:
    """The commands of README/docs path ``name``, in order, working in ``work``."""
    space = work / "space.yaml"
    if name == "tune":
        space.write_text(SPACE)
    return {
        # README quickstart and "Training"'s joint example (one path: the recommended recipe
        # is joint mode with a cycle loss), then "Serving": python export/export.py --run ...
        "plain": [
            ["train.py", "--topology", "embed_AV_T", "--set", "train.mode=joint"]
            + ["--set", "train.cycle_weight=0.5", *SMALL, "--out", str(work / "run")],
            [
                "export/export.py",
                "--run",
                str(work / "run"),
                "--name",
                "tfs2s",
                "--out",
                str(work / "serving"),
            ],
        ],
        # README "Data": tfs2s data prepare --out cache/, then train from the cache, with
        # README "Several GPUs" / docs/distributed.md: mirrored over two logical CPUs (one
        # run for both paths).
        "cache": [
            [
                "-m",
                "tfs2s.cli",
                "data",
                "prepare",
                "--set",
                "data.synthetic_segments=400",
                "--set",
                "data.max_seq_len=5",
                "--out",
                str(work / "cache"),
            ],
            ["train.py", "--topology", "T_V", "--data", str(work / "cache"), *SMALL]
            + ["--strategy", "mirrored", "--cpu-devices", "2", "--out", str(work / "run")],
        ],
        # README "Hyper-parameter search", then train.py --config best_config.yaml.
        "tune": [
            ["train.py", "--topology", "T_V", "--tune", "random", "--max-trials", "2"]
            + ["--tune-dir", str(work / "search"), "--space", str(space), *SMALL],
            [
                "train.py",
                "--config",
                str(work / "search" / "best_config.yaml"),
                "--out",
                str(work / "run"),
            ],
        ],
        # README "Paper tables": one table, one of its rows, one seed. The row is the
        # tri-modal table's second, embed(T, V) -> A: the poster's Algorithm 2, whose
        # second stage trains on encoder 1's output computed once, at batch 32.
        "paper": [
            ["-m", "tfs2s.cli", "experiments", "paper", "--tables", "trimodal"]
            + ["--shard", "2/14", "--seeds", "1", *SMALL, "--out", str(work / "out")],
        ],
    }[name]


def _path(name: str):
    """The background job of path ``name``: its work directory and each step's outcome."""

    def job(work: Path) -> tuple[Path, list[subprocess.CompletedProcess]]:
        results = []
        for i, args in enumerate(_steps(name, work)):
            results.append(_run(args, work / f"{name}-{i}.log", timeout=400))
            if results[-1].returncode != 0:
                break  # a chain stops at its first failure
        return work, results

    return job


def _run(args, log: Path, timeout: float) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    for name in ("TF_CONFIG", "TFS2S_CPU_DEVICES", "TF_CPP_MIN_LOG_LEVEL"):
        env.pop(name, None)
    start = time.monotonic()
    proc = BACKGROUND.popen(
        [sys.executable, *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    if proc is None:
        return subprocess.CompletedProcess(args, -1, "", "not started: the session is ending")
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        stdout, stderr = proc.communicate()
        stderr += f"\n(killed after {timeout} s)"
    took = time.monotonic() - start
    log.write_text(f"$ {' '.join(args)}\n({took:.1f} s)\n{stdout}\n{stderr}")
    return subprocess.CompletedProcess(args, proc.returncode, stdout, stderr)


#: Each path runs in the background from the start of the session (see tests/conftest.py).
PATHS = {
    "plain": (
        "test_plain_training_writes_every_artefact_then_export",
        "test_joint_mode_with_a_cycle_loss",
    ),
    "cache": (
        "test_training_from_a_prepared_one_shard_cache",
        "test_mirrored_on_two_logical_cpus_at_the_default_batch",
    ),
    "tune": ("test_a_two_trial_search_then_training_its_best_config",),
    "paper": ("test_the_paper_runner_on_one_table",),
}
BACKGROUND_JOBS = {f"readme/{name}": (tests, _path(name)) for name, tests in PATHS.items()}


def _ok(name, steps):
    work, results = BACKGROUND.result(f"readme/{name}", _path(name))
    assert len(results) == steps, f"{name}: a step failed"
    for res in results:
        assert res.returncode == 0, f"{name}: {res.args}\n{res.stdout[-3000:]}{res.stderr[-3000:]}"
        # Quiet by default (TF_CPP_MIN_LOG_LEVEL is unset here, as on a user's machine), and
        # one plain line per epoch into a pipe: no carriage-return progress bars.
        assert "InitializeLog" not in res.stderr and "cudart_stub" not in res.stderr
        # (keras-tuner's search display still clears lines with "\x1b[2K": its own code.)
        assert "\r" not in res.stdout and "\x1b[" not in res.stdout.replace("\x1b[2K", "")
    return work, results


def _check_run(run: Path, topology: str, recipe: str = "recommended"):
    params = yaml.safe_load((run / "params.yaml").read_text())
    assert params["topology"] == topology
    assert params["recipe"] == recipe
    # the recipe's default, not a tiny one
    assert params["train"]["batch_size"] == load_recipe(recipe).train.batch_size
    assert params["train"]["steps_per_execution"] == 0  # the default: an epoch per call
    metrics = json.loads((run / "metrics.json").read_text())
    assert set(metrics["valid"]) == set(METRIC_KEYS)
    assert (run / "model.keras").is_file()
    return params, metrics


def test_plain_training_writes_every_artefact_then_export():
    # (Formerly tests/test_train_cli.py's one-epoch run: the same assertions, one run fewer.)
    work, results = _ok("plain", 2)
    out = work / "run"
    params, metrics = _check_run(out, "embed_AV_T")
    for name in ("params.yaml", "model.keras", "translator.keras", "metrics.json", "history.csv"):
        assert (out / name).is_file(), name
    assert any((out / "logs").rglob("*tfevents*"))
    assert params["train"]["epochs"] == 1
    assert set(metrics) >= {"valid", "test"}
    with open(out / "history.csv") as f:
        rows = list(csv.DictReader(f))
    # the recommended recipe trains the hierarchy and the regressor in one joint phase
    assert {r["phase"] for r in rows} == {"joint"}
    assert "embed_AV_T" in results[0].stdout and "f1_2" in results[0].stdout
    # The export at its defaults: XLA, verified against Keras before it is published.
    report = json.loads(results[1].stdout[results[1].stdout.index("{") :])
    assert report["version"] == 1 and report["topology"] == "embed_AV_T"
    assert report["signatures"] == ["serving_default", "translate"]
    assert report["inputs"] == {"audio": 74}  # embed_AV_T reads audio alone at inference
    assert "verify_run" in report["seconds"]
    v1 = work / "serving" / "tfs2s" / "1"
    for name in VERSION_FILES:
        assert (v1 / name).exists(), name
    meta = json.loads((v1 / "assets.extra/tfs2s.json").read_text())
    assert meta["jit_compile"] is True
    assert meta["server_flags"] == ["--xla_cpu_compilation_enabled=true"]


def test_training_from_a_prepared_one_shard_cache():
    work, _ = _ok("cache", 2)
    shards = sorted(p.name for p in (work / "cache").glob("train-*.tfrecord"))
    assert shards == ["train-00000-of-00001.tfrecord"]  # one shard: the layout that crashed
    params, _ = _check_run(work / "run", "T_V")
    assert params["data"]["path"] == str(work / "cache")


def test_mirrored_on_two_logical_cpus_at_the_default_batch():
    # The cache path's run (see above): mirrored, two logical CPUs.
    work, _ = _ok("cache", 2)
    params, _ = _check_run(work / "run", "T_V")
    assert params["train"]["strategy"] == "mirrored"


def test_joint_mode_with_a_cycle_loss():
    # README "Training": the joint example's run, also the quickstart's (see the docstring).
    work, _ = _ok("plain", 2)
    params, _ = _check_run(work / "run", "embed_AV_T")
    assert params["train"]["mode"] == "joint"
    assert params["train"]["cycle_weight"] == 0.5


def test_a_two_trial_search_then_training_its_best_config():
    work, _ = _ok("tune", 2)
    rows = (work / "search" / "trials.csv").read_text().splitlines()
    assert len(rows) == 3  # header + 2 trials
    params, _ = _check_run(work / "run", "T_V")
    best = yaml.safe_load((work / "search" / "best_config.yaml").read_text())
    assert params["model"] == best["model"]


def test_the_paper_runner_on_one_table():
    work, results = _ok("paper", 1)
    out = work / "out"
    for name in ("results.csv", "results.md"):
        assert (out / name).is_file(), name
    assert "embed_TV_A" in (out / "results.csv").read_text()
    runs = list(out.rglob("metrics.json"))
    assert len(runs) == 1, runs
    phases = [row["phase"] for row in csv.DictReader(open(runs[0].parent / "history.csv"))]
    assert phases == ["translation_1", "translation_2", "regression"]
