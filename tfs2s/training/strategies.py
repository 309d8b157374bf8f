"""``tf.distribute`` strategies by name, and what multi-worker training needs around them.

Strategies (``train.strategy`` / ``--strategy``):

- ``auto``: :class:`tf.distribute.MirroredStrategy` over all GPUs when there are several,
  else the default strategy.
- ``one``: the default strategy (one device).
- ``mirrored``: ``MirroredStrategy`` over all GPUs, or over all logical CPU devices when
  there is no GPU (see :func:`configure_cpu_devices`).
- ``multiworker``: :class:`tf.distribute.MultiWorkerMirroredStrategy` configured by the
  ``TF_CONFIG`` environment variable (validated by :func:`read_tf_config`).

``train.batch_size`` is always the *global* batch: Keras splits every batch across the
replicas and scales each replica's loss by ``1 / num_replicas_in_sync`` before the
gradients are summed, so the loss and the update do not depend on the replica count.

Environment variables read here:

- ``TFS2S_CPU_DEVICES=N``: split the CPU into N logical devices at start-up so that the
  multi-device code paths (``--strategy mirrored``) run on a CPU-only machine.
- ``TFS2S_COLLECTIVE_TIMEOUT=SECONDS``: multi-worker collectives (gradient all-reduce)
  raise ``DeadlineExceededError`` after this long instead of waiting for a peer forever
  (default: no timeout; a peer that *dies* is detected anyway by TensorFlow's
  coordination-service heartbeats, in about 10 s).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import tempfile
import threading
from collections.abc import Mapping
from typing import Any

import tensorflow as tf

from tfs2s import compat
from tfs2s.config import Strategy, choices

CPU_DEVICES_ENV = "TFS2S_CPU_DEVICES"
COLLECTIVE_TIMEOUT_ENV = "TFS2S_COLLECTIVE_TIMEOUT"
STRATEGY_NAMES: tuple[str, ...] = choices(Strategy)
_CLUSTER_JOBS = ("chief", "worker")
#: Most logical CPU devices ``--cpu-devices`` makes (stand-ins for the GPUs of a machine).
MAX_CPU_DEVICES = 64


class WorkerFailure(RuntimeError):
    """A peer of a multi-worker run failed or became unreachable."""


# --------------------------------------------------------------------------- devices


def configure_cpu_devices(count: int | str | None = None) -> int | None:
    """Split the physical CPU into ``count`` logical devices.

    Must run before TensorFlow initialises its devices (before the first op, strategy or
    ``list_logical_devices`` call); ``tfs2s`` calls it at start-up when the
    ``TFS2S_CPU_DEVICES`` environment variable or ``--cpu-devices`` is set.

    Args:
        count: logical CPU devices wanted; ``None`` reads ``TFS2S_CPU_DEVICES``
            (unset or empty: leave the devices alone).

    Returns:
        The number of logical CPU devices configured, or None when there was nothing to
        do. TensorFlow's runtime is not initialised by this call (a multi-worker strategy
        created afterwards still configures its collectives).

    Raises:
        ValueError: ``count`` is not a positive integer.
        RuntimeError: TensorFlow already initialised a different number of CPU devices.
    """
    source = "--cpu-devices"
    if count is None:
        count = os.environ.get(CPU_DEVICES_ENV, "").strip() or None
        source = CPU_DEVICES_ENV
        if count is None:
            return None
    try:
        n = int(count)
    except (TypeError, ValueError):
        raise ValueError(f"{source}: expected a positive integer, found {count!r}") from None
    if n < 1:
        raise ValueError(f"{source}: expected a positive integer, found {count!r}")
    if n > MAX_CPU_DEVICES:
        # Each logical device is a replica of every variable and step: a thousand of them
        # built for minutes without a word.
        raise ValueError(
            f"{source}: expected at most {MAX_CPU_DEVICES} logical CPU devices (they stand "
            f"in for GPUs in tests), found {n}"
        )
    cpu = tf.config.list_physical_devices("CPU")[0]
    current = tf.config.get_logical_device_configuration(cpu)
    if current is not None and len(current) == n:
        return n
    try:
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration() for _ in range(n)]
        )
    except RuntimeError:
        have = len(tf.config.list_logical_devices("CPU"))
        if have == n:
            return n
        raise RuntimeError(
            f"{source}={n}: TensorFlow already initialised {have} CPU device(s); set it "
            "before the first TensorFlow operation (e.g. in the environment of the process)"
        ) from None
    return n


# --------------------------------------------------------------------------- TF_CONFIG


def read_tf_config(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Parse and check ``TF_CONFIG`` for multi-worker training.

    Expected form (``chief`` is optional; without it worker 0 is the chief)::

        {"cluster": {"worker": ["host1:port", "host2:port"]},
         "task": {"type": "worker", "index": 0}}

    Returns:
        The parsed dict.

    Raises:
        ValueError: naming what is missing or malformed and showing the expected form.
    """
    environ = os.environ if environ is None else environ
    example = (
        'e.g. TF_CONFIG=\'{"cluster": {"worker": ["host1:12345", "host2:12345"]}, '
        '"task": {"type": "worker", "index": 0}}\''
    )
    text = environ.get("TF_CONFIG", "").strip()
    if not text:
        raise ValueError(
            "--strategy multiworker needs the TF_CONFIG environment variable describing "
            f"the cluster and this task; {example}"
        )
    try:
        cfg = json.loads(text)
    except json.JSONDecodeError as e:
        raise ValueError(f"TF_CONFIG is not valid JSON ({e}); {example}") from None
    if not isinstance(cfg, dict):
        raise ValueError(f"TF_CONFIG must be a JSON object, found {text!r}; {example}")
    cluster, task = cfg.get("cluster"), cfg.get("task")
    if not isinstance(cluster, dict) or not cluster:
        raise ValueError(f"TF_CONFIG has no 'cluster' mapping; {example}")
    for job, addresses in cluster.items():
        if (
            not isinstance(addresses, list)
            or not addresses
            or not all(isinstance(a, str) and ":" in a for a in addresses)
        ):
            raise ValueError(
                f"TF_CONFIG cluster.{job}: expected a non-empty list of 'host:port' strings, "
                f"found {addresses!r}"
            )
    unknown = sorted(set(cluster) - set(_CLUSTER_JOBS) - {"evaluator"})
    if unknown:
        raise ValueError(
            f"TF_CONFIG cluster: MultiWorkerMirroredStrategy uses the jobs 'chief' and "
            f"'worker' only, found {unknown}"
        )
    if "worker" not in cluster and "chief" not in cluster:
        raise ValueError(f"TF_CONFIG cluster has no 'worker' (or 'chief') job; {example}")
    seen: dict[str, str] = {}
    for job, addresses in cluster.items():
        for i, address in enumerate(addresses):
            if address in seen:
                raise ValueError(
                    f"TF_CONFIG cluster: {address!r} is both {seen[address]} and {job}[{i}]; "
                    "expected one host:port per task (the tasks would wait for each other "
                    "forever)"
                )
            seen[address] = f"{job}[{i}]"
    if "chief" in cluster and len(cluster["chief"]) != 1:
        raise ValueError(
            f"TF_CONFIG cluster.chief: expected exactly one address, found {cluster['chief']}"
        )
    if not isinstance(task, dict) or "type" not in task or "index" not in task:
        raise ValueError(f"TF_CONFIG has no 'task' with 'type' and 'index'; {example}")
    job, index = task["type"], task["index"]
    if job not in cluster:
        raise ValueError(
            f"TF_CONFIG task.type {job!r} is not a job of the cluster {sorted(cluster)}"
        )
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(cluster[job]):
        raise ValueError(
            f"TF_CONFIG task.index: expected an integer in 0..{len(cluster[job]) - 1} for job "
            f"{job!r}, found {index!r}"
        )
    return cfg


# --------------------------------------------------------------------------- strategies


def _collective_timeout() -> float | None:
    text = os.environ.get(COLLECTIVE_TIMEOUT_ENV, "").strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        raise ValueError(
            f"{COLLECTIVE_TIMEOUT_ENV}: expected a number of seconds, found {text!r}"
        ) from None
    if seconds < 0:
        raise ValueError(f"{COLLECTIVE_TIMEOUT_ENV}: expected seconds >= 0, found {text!r}")
    return seconds or None


@contextlib.contextmanager
def _interruptible_wait():
    """Ctrl-C ends the process while it waits for its peers.

    The strategy's constructor blocks in TensorFlow's C++ until every task of the
    cluster has started; Python runs its SIGINT handler (KeyboardInterrupt) only once that
    returns, so a missing peer made Ctrl-C do nothing. Here SIGINT has its default action
    (end the process) for the wait, and Python's handler is back before training starts.
    SIGTERM's default already ends it.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_DFL)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def make_strategy(name: str) -> tf.distribute.Strategy:
    """Build the strategy ``name`` (one of :data:`STRATEGY_NAMES`, see the module docstring).

    Raises:
        ValueError: unknown name, or ``multiworker`` without a valid ``TF_CONFIG``.
    """
    if name == "auto":
        gpus = tf.config.list_logical_devices("GPU")
        if len(gpus) < 2:
            return tf.distribute.get_strategy()
        patch_keras_for_distribution()
        return tf.distribute.MirroredStrategy()
    if name == "one":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        gpus = tf.config.list_logical_devices("GPU")
        devices = [d.name for d in (gpus or tf.config.list_logical_devices("CPU"))]
        patch_keras_for_distribution()
        return tf.distribute.MirroredStrategy(devices=devices)
    if name == "multiworker":
        cfg = read_tf_config()
        tasks = sum(len(a) for job, a in cfg["cluster"].items() if job in _CLUSTER_JOBS)
        task = cfg["task"]
        print(
            f"tfs2s: {task['type']} {task['index']} waits for the {tasks} tasks of TF_CONFIG "
            "to start; until every one has, nothing more is printed",
            file=sys.stderr,
            flush=True,
        )
        patch_keras_for_distribution()
        options = tf.distribute.experimental.CommunicationOptions(
            timeout_seconds=_collective_timeout()
        )
        with _interruptible_wait():
            return tf.distribute.MultiWorkerMirroredStrategy(communication_options=options)
    raise ValueError(f"unknown strategy {name!r}; expected one of {list(STRATEGY_NAMES)}")


def patch_keras_for_distribution() -> None:
    """Apply tfs2s's workaround for Keras' multi-replica ``fit`` bugs (see
    :func:`tfs2s.compat.patch_keras_for_distribution`); idempotent.

    Raises:
        tfs2s.compat.CompatError: the installed Keras lacks the internals it replaces.
    """
    compat.patch_keras_for_distribution()


def _task(strategy: tf.distribute.Strategy) -> tuple[str | None, int | None, dict]:
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None:
        return None, None, {}
    spec = resolver.cluster_spec().as_dict()
    return resolver.task_type, resolver.task_id, spec


def is_multi_worker(strategy: tf.distribute.Strategy) -> bool:
    """True for a strategy spanning several processes."""
    return compat.in_multi_worker_mode(strategy)


def is_default(strategy: tf.distribute.Strategy | None) -> bool:
    """True for no strategy or TensorFlow's default one (what ``auto`` and ``one`` build
    without several GPUs): one replica in this process, nothing distributed.

    Inside another strategy's scope the default one cannot be told apart, and this says
    False (callers then take their general path).
    """
    if strategy is None:
        return True
    return not tf.distribute.has_strategy() and strategy is tf.distribute.get_strategy()


def supports_multi_step(strategy: tf.distribute.Strategy | None) -> bool:
    """True where Keras' multi-step loop (``steps_per_execution > 1``) runs.

    Under ``MirroredStrategy`` and ``MultiWorkerMirroredStrategy`` that loop fails: the
    distributed iterator's ``get_next_as_optional`` inside the loop's ``tf.cond`` leaves
    an unfed placeholder ("You must feed a value for placeholder tensor ...
    multi_step_on_iterator"), and multi-worker collectives cannot run inside it either.
    """
    if strategy is None:
        return True
    return not isinstance(
        strategy, (tf.distribute.MirroredStrategy, tf.distribute.MultiWorkerMirroredStrategy)
    )


def is_chief_task(tf_config: Mapping[str, Any]) -> bool:
    """True when the task of a parsed ``TF_CONFIG`` (see :func:`read_tf_config`) is the
    chief: the ``chief`` task, else worker 0."""
    task, cluster = tf_config["task"], tf_config["cluster"]
    if task["type"] == "chief":
        return True
    return task["type"] == "worker" and task["index"] == 0 and "chief" not in cluster


def is_chief(strategy: tf.distribute.Strategy) -> bool:
    """True where this process should write the run's artefacts.

    The chief is the ``chief`` task if the cluster has one, else worker 0; a process that
    is not part of a cluster is its own chief.
    """
    task_type, task_id, spec = _task(strategy)
    if not spec or task_type in (None, "chief"):
        return True
    return task_type == "worker" and task_id == 0 and "chief" not in spec


def task_name(strategy: tf.distribute.Strategy) -> str:
    """``"chief"``, ``"worker1"``, ... (``"chief"`` outside a cluster): for messages and paths."""
    task_type, task_id, spec = _task(strategy)
    if not spec or task_type is None:
        return "chief"
    return f"{task_type}{task_id}"


def write_dir_for(out_dir: str, strategy: tf.distribute.Strategy) -> str:
    """Where this process writes: ``out_dir`` on the chief, a fresh temporary directory
    on the other workers (the Keras multi-worker pattern: every worker runs the same
    saving code, only the chief's copy is kept; the caller deletes the temporary one).
    """
    if is_chief(strategy):
        os.makedirs(out_dir, exist_ok=True)
        return out_dir
    return tempfile.mkdtemp(prefix=f"tfs2s-{task_name(strategy)}-")


def worker_failure_message(strategy: tf.distribute.Strategy, error: BaseException) -> str:
    """A clear message for a collective that failed because a peer died or hung."""
    first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return (
        f"multi-worker training stopped on {task_name(strategy)}: a peer worker failed or "
        f"became unreachable ({type(error).__name__}: {first}). Restart every worker with "
        "the same command: training resumes from the last epoch backed up in the run "
        "directory."
    )


#: TensorFlow errors raised by collectives when a peer dies (Unavailable), restarts
#: (FailedPrecondition/Aborted) or hangs past the collective timeout (DeadlineExceeded).
PEER_ERRORS: tuple[type[BaseException], ...] = (
    tf.errors.UnavailableError,
    tf.errors.DeadlineExceededError,
    tf.errors.AbortedError,
    tf.errors.CancelledError,
    tf.errors.FailedPreconditionError,
)
