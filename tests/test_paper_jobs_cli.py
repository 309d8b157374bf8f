"""``tfs2s experiments paper --jobs 2`` from the CLI: killed mid-way, its workers die with
it, the same command resumes with what was published, and every run and table equals
one job's."""

import glob
import os
import signal
import subprocess
import sys
import time

import pytest
from conftest import ROOT, TINY

from tfs2s.cli import build_parser
from tfs2s.cli_args import config_from_args
from tfs2s.experiments import paper

pytestmark = pytest.mark.multiprocess

ARGS = [
    "-m",
    "tfs2s.cli",
    "experiments",
    "paper",
    "--jobs",
    "2",
    "--tables",
    "unimodal",
    "--seeds",
    "2",
    "--quiet",
    "--set",
    "data.max_seq_len=5",
    *TINY,
]


#: Every file of a run that holds no time stamp (model.keras and TensorBoard logs do).
SAME_FILES = ("params.yaml", "metrics.json", "history.csv", "trained.json")


def _children(pid: int) -> list[int]:
    found = []
    for stat in glob.glob("/proc/[0-9]*/stat"):
        try:
            with open(stat) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.split("/")[2]))
    return found


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="reads worker pids from /proc (Linux)")
def test_a_killed_paper_run_takes_its_workers_with_it_and_resumes(tmp_path):
    out = str(tmp_path / "paper")
    env = dict(os.environ, PYTHONPATH=str(ROOT), TF_CPP_MIN_LOG_LEVEL="2")
    cmd = [sys.executable, *ARGS, "--out", out]
    proc = subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 300
        while not glob.glob(os.path.join(out, "runs", "*", "seed*", "metrics.json")):
            assert proc.poll() is None, proc.stderr.read().decode()
            assert time.monotonic() < deadline, "no run was published in 300 s"
            time.sleep(0.2)
        workers = [pid for pid in _children(proc.pid) if _alive(pid)]
        assert len(workers) >= 2  # two paper workers (+ multiprocessing's helper)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        deadline = time.monotonic() + 30
        while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not any(_alive(pid) for pid in workers), "workers outlived the killed parent"
    finally:
        if proc.poll() is None:
            proc.kill()
    published = glob.glob(os.path.join(out, "runs", "*", "seed*", "metrics.json"))
    assert 1 <= len(published) < 6

    res = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    assert res.stdout.count("done before, skipped") == len(published)
    assert res.stdout.count("), test f1_2 ") == 6 - len(published)
    with open(os.path.join(out, "results.csv")) as f:
        assert len(f.read().splitlines()) == 1 + 6
    assert not glob.glob(os.path.join(out, "runs", "*", ".seed*.partial"))

    # the same command with one job, in this process: the same runs, the same tables
    one = str(tmp_path / "one")
    cfg = config_from_args(build_parser().parse_args(ARGS[2:] + ["--out", one]))
    paper.run_paper(cfg, one, seeds=2, tables=["unimodal"], jobs=1, log=lambda line: None)
    for name in ("baseline_T", "baseline_A", "baseline_V"):
        for seed in (0, 1):
            for file in SAME_FILES:
                with (
                    open(os.path.join(paper.run_dir(out, name, seed), file)) as a,
                    open(os.path.join(paper.run_dir(one, name, seed), file)) as b,
                ):
                    assert a.read() == b.read(), (name, seed, file)
    for file in ("results.csv", "results.md"):
        with open(os.path.join(out, file)) as a, open(os.path.join(one, file)) as b:
            assert a.read() == b.read(), file
