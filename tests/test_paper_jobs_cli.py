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
from conftest import BACKGROUND, ROOT, TINY

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


def _killed_then_resumed(work) -> dict:
    """Start ``--jobs 2``, SIGKILL it once a run is published, rerun the same command, and
    run the same rows with ``--jobs 1`` for reference: every process fresh (a background
    job, see tests/conftest.py)."""
    out, one = str(work / "paper"), str(work / "one")
    env = dict(os.environ, PYTHONPATH=str(ROOT), TF_CPP_MIN_LOG_LEVEL="2")
    cmd = [sys.executable, *ARGS, "--out", out]
    proc = BACKGROUND.popen(
        cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    if proc is None:
        return {"error": "not started: the session is ending"}
    workers, outlived = [], None
    try:
        deadline = time.monotonic() + 300
        while not glob.glob(os.path.join(out, "runs", "*", "seed*", "metrics.json")):
            if proc.poll() is not None:
                return {"error": proc.stderr.read().decode()[-3000:]}
            if time.monotonic() > deadline:
                return {"error": "no run was published in 300 s"}
            time.sleep(0.2)
        workers = [pid for pid in _children(proc.pid) if _alive(pid)]
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        deadline = time.monotonic() + 30
        while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
            time.sleep(0.2)
        outlived = [pid for pid in workers if _alive(pid)]
    finally:
        if proc.poll() is None:
            proc.kill()
    published = glob.glob(os.path.join(out, "runs", "*", "seed*", "metrics.json"))
    rerun = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    reference = subprocess.run(
        [sys.executable, *ARGS, "--out", one] + ["--jobs", "1"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    return {
        "out": out,
        "one": one,
        "workers": workers,
        "outlived": outlived,
        "published": len(published),
        "rerun": rerun,
        "reference": reference,
    }


BACKGROUND_JOBS = {
    "paper-jobs/killed": (
        ("test_a_killed_paper_run_takes_its_workers_with_it_and_resumes",),
        _killed_then_resumed,
    )
}


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="reads worker pids from /proc (Linux)")
def test_a_killed_paper_run_takes_its_workers_with_it_and_resumes():
    r = BACKGROUND.result("paper-jobs/killed", _killed_then_resumed)
    assert "error" not in r, r.get("error")
    assert len(r["workers"]) >= 2  # two paper workers (+ multiprocessing's helper)
    assert r["outlived"] == [], "workers outlived the killed parent"
    out, one, published = r["out"], r["one"], r["published"]
    assert 1 <= published < 6

    res = r["rerun"]
    assert res.returncode == 0, res.stderr[-3000:]
    assert res.stdout.count("done before, skipped") == published
    assert res.stdout.count("), test f1_2 ") == 6 - published
    with open(os.path.join(out, "results.csv")) as f:
        assert len(f.read().splitlines()) == 1 + 6
    assert not glob.glob(os.path.join(out, "runs", "*", ".seed*.partial"))

    # the same command with one job: the same runs, the same tables
    assert r["reference"].returncode == 0, r["reference"].stderr[-3000:]
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
