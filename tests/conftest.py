import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: Overrides that make any run tiny: a few dozen segments of 5 words, 4 hidden units, one
#: epoch. (The LSTMs are unrolled over the words, so tracing time grows with their count.)
TINY = [
    "--set",
    "data.synthetic_segments=150",
    "--set",
    "data.max_seq_len=5",
    "--set",
    "model.hidden=4",
    "--set",
    "model.regressor_hidden=4",
    "--set",
    "train.batch_size=16",
    "--epochs",
    "1",
]

#: What a finished seq2seq run directory holds (published whole, backups removed).
RUN_FILES = {
    "params.yaml",
    "model.keras",
    "translator.keras",
    "trained.json",
    "metrics.json",
    "history.csv",
    "logs",
}

#: What every exported SavedModel version directory holds.
VERSION_FILES = (
    "saved_model.pb",
    "variables",
    "assets.extra/tf_serving_warmup_requests",
    "assets.extra/tfs2s.json",
)


def run_cli(args, cwd=None, timeout=600, env=None):
    """Run ``python <args>`` from the repo root in a fresh process; returns CompletedProcess."""
    full_env = dict(os.environ, PYTHONPATH=str(ROOT), TF_CPP_MIN_LOG_LEVEL="2")
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, *args],
        cwd=cwd or ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=full_env,
    )


@pytest.fixture
def tiny_args():
    return list(TINY)


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_all(procs, timeout):
    """Wait for every process; kill (by pid) and fail on overrun; returns the exit codes."""
    deadline = time.monotonic() + timeout
    try:
        for p in procs:
            p.wait(timeout=max(deadline - time.monotonic(), 0.1))
    except subprocess.TimeoutExpired:
        pytest.fail(f"processes still running after {timeout} s")
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    return [p.returncode for p in procs]


class Background:
    """Jobs of fresh processes that start as soon as the tests are collected and run in a
    background thread, beside the in-process tests, which leave one of the two cores idle.

    A test module lists its jobs in ``BACKGROUND_JOBS``: job name -> (names of the tests
    that need it, ``job(work_dir) -> result``). :func:`pytest_collection_finish` queues the
    jobs of the selected tests in the order of the tests; a test asks for its job's result
    with :meth:`result` (which runs the job then and there when nothing queued it). Beside
    other tests one job runs at a time; alone, two (three TensorFlow trainings at once on
    2 cores measured slower than two: 316 s against 213 s). Processes started through
    :meth:`popen` are killed by pid at the end of the session.
    """

    def __init__(self):
        self._root: Path | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._futures: dict[str, Future] = {}
        self._procs: set[subprocess.Popen] = set()
        self._lock = threading.Lock()
        self._stopped = False

    def start(self, jobs: dict[str, Callable[[Path], Any]], workers: int) -> None:
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="background")
        for name, job in jobs.items():
            self._futures[name] = self._pool.submit(job, self._work_dir(name))

    def result(self, name: str, job: Callable[[Path], Any]) -> Any:
        """The result of job ``name`` (waiting for it), or of ``job`` run now if not queued."""
        if name not in self._futures:
            return job(self._work_dir(name))
        return self._futures[name].result()

    def popen(self, args, **kwargs) -> subprocess.Popen | None:
        """``subprocess.Popen(args, **kwargs)``, killed at the end of the session; None once
        the session is ending."""
        with self._lock:
            if self._stopped:
                return None
            proc = subprocess.Popen(args, **kwargs)
            self._procs.add(proc)
            return proc

    def stop(self) -> None:
        """Kill what still runs (by pid), drop the jobs not started, remove their outputs."""
        with self._lock:
            self._stopped = True
            for proc in self._procs:
                if proc.poll() is None:
                    proc.kill()
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
        if self._root is not None:
            shutil.rmtree(self._root, ignore_errors=True)

    def _work_dir(self, name: str) -> Path:
        with self._lock:
            if self._root is None:
                self._root = Path(tempfile.mkdtemp(prefix="tfs2s-tests-"))
        work = self._root / name.replace("/", "-")
        work.mkdir()
        return work


#: The session's background jobs (see :class:`Background`).
BACKGROUND = Background()


def pytest_collection_finish(session):
    if session.config.option.collectonly:
        return
    jobs, in_process = {}, False
    for item in session.items:
        listed = getattr(getattr(item, "module", None), "BACKGROUND_JOBS", {})
        needed = {n: job for n, (tests, job) in listed.items() if item.originalname in tests}
        in_process |= not needed
        for name, job in needed.items():
            jobs.setdefault(name, job)
    if jobs:
        BACKGROUND.start(jobs, workers=1 if in_process else 2)


def pytest_sessionfinish(session):
    BACKGROUND.stop()
