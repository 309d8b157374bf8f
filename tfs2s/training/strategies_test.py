import json
import os
import subprocess
import sys
import types
from pathlib import Path

import pytest

from tfs2s.training import strategies as S

ROOT = Path(__file__).resolve().parents[2]
CLUSTER = {"worker": ["127.0.0.1:1111", "127.0.0.1:2222"]}


def tf_config(cluster=CLUSTER, task_type="worker", index=0):
    return {
        "TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": task_type, "index": index}})
    }


def test_a_valid_tf_config_is_returned():
    cfg = S.read_tf_config(tf_config(index=1))
    assert cfg["task"] == {"type": "worker", "index": 1}


@pytest.mark.parametrize(
    "environ, message",
    [
        ({}, "needs the TF_CONFIG environment variable"),
        ({"TF_CONFIG": "{cluster"}, "not valid JSON"),
        ({"TF_CONFIG": "[]"}, "must be a JSON object"),
        ({"TF_CONFIG": json.dumps({"task": {"type": "worker", "index": 0}})}, "no 'cluster'"),
        (tf_config(cluster={"worker": "127.0.0.1:1"}), "list of 'host:port'"),
        (tf_config(cluster={"worker": ["nohostport"]}), "list of 'host:port'"),
        (tf_config(cluster={"ps": ["a:1"], "worker": ["b:2"]}), "'chief' and 'worker' only"),
        (tf_config(cluster={"chief": ["a:1", "b:2"]}, task_type="chief"), "exactly one"),
        ({"TF_CONFIG": json.dumps({"cluster": CLUSTER})}, "no 'task'"),
        (tf_config(task_type="chief"), "not a job of the cluster"),
        (tf_config(index=2), "integer in 0..1"),
        (tf_config(index="0"), "integer in 0..1"),
        # once accepted: both tasks then waited for each other forever
        (
            tf_config(cluster={"worker": ["a:1", "a:1"]}),
            r"'a:1' is both worker\[0\] and worker\[1\]",
        ),
        (
            tf_config(cluster={"chief": ["a:1"], "worker": ["b:2", "a:1"]}),
            r"'a:1' is both chief\[0\] and worker\[1\]",
        ),
    ],
)
def test_a_missing_or_malformed_tf_config_is_a_clear_error(environ, message):
    with pytest.raises(ValueError, match=message):
        S.read_tf_config(environ)


def test_the_chief_task_of_a_tf_config():
    assert S.is_chief_task(S.read_tf_config(tf_config(index=0)))
    assert not S.is_chief_task(S.read_tf_config(tf_config(index=1)))
    with_chief = {"chief": ["127.0.0.1:3333"], **CLUSTER}
    assert S.is_chief_task(S.read_tf_config(tf_config(with_chief, "chief", 0)))
    assert not S.is_chief_task(S.read_tf_config(tf_config(with_chief, "worker", 0)))


def test_multiworker_without_tf_config_fails_before_starting_tensorflow(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(ValueError, match="TF_CONFIG"):
        S.make_strategy("multiworker")


def test_unknown_strategy_is_an_error():
    with pytest.raises(ValueError, match="expected one of"):
        S.make_strategy("tpu")


def fake_strategy(spec, task_type, task_id):
    resolver = types.SimpleNamespace(
        cluster_spec=lambda: types.SimpleNamespace(as_dict=lambda: spec),
        task_type=task_type,
        task_id=task_id,
    )
    return types.SimpleNamespace(cluster_resolver=resolver)


@pytest.mark.parametrize(
    "spec, task_type, task_id, chief, name",
    [
        ({}, None, None, True, "chief"),
        (CLUSTER, "worker", 0, True, "worker0"),
        (CLUSTER, "worker", 1, False, "worker1"),
        ({"chief": ["a:1"], **CLUSTER}, "chief", 0, True, "chief0"),
        ({"chief": ["a:1"], **CLUSTER}, "worker", 0, False, "worker0"),
    ],
)
def test_the_chief_is_the_chief_task_else_worker_0(spec, task_type, task_id, chief, name):
    strategy = fake_strategy(spec, task_type, task_id)
    assert S.is_chief(strategy) is chief
    assert S.task_name(strategy) == name


def test_the_default_strategy_is_its_own_chief_and_writes_into_the_run(tmp_path):
    import tensorflow as tf

    strategy = tf.distribute.get_strategy()
    assert S.is_chief(strategy) and not S.is_multi_worker(strategy)
    assert S.write_dir_for(str(tmp_path / "run"), strategy) == str(tmp_path / "run")


def test_the_default_strategy_and_none_are_the_undistributed_path():
    import tensorflow as tf

    assert S.is_default(None)
    assert S.is_default(S.make_strategy("one"))
    one_device = tf.distribute.OneDeviceStrategy("/cpu:0")
    assert not S.is_default(one_device)
    with one_device.scope():
        # inside a scope the default strategy cannot be told apart: the general path
        assert not S.is_default(tf.distribute.get_strategy())


def test_a_worker_writes_into_a_temporary_directory(tmp_path, monkeypatch):
    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)
    out = S.write_dir_for(str(tmp_path / "run"), fake_strategy(CLUSTER, "worker", 1))
    assert out.startswith(str(tmp_path / "tmp")) and "worker1" in out
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("value", ["0", "-1", "two", "1.5"])
def test_bad_cpu_device_counts_are_rejected(value):
    with pytest.raises(ValueError, match="positive integer"):
        S.configure_cpu_devices(value)


def test_a_thousand_cpu_devices_are_refused_before_tensorflow_sees_them():
    # 1000 once built silently for minutes; refused before any device is configured
    with pytest.raises(ValueError, match="--cpu-devices: expected at most 64 .* found 1000"):
        S.configure_cpu_devices(1000)


def test_collective_timeout_is_read_from_the_environment(monkeypatch):
    monkeypatch.setenv(S.COLLECTIVE_TIMEOUT_ENV, "30")
    assert S._collective_timeout() == 30.0
    monkeypatch.setenv(S.COLLECTIVE_TIMEOUT_ENV, "0")
    assert S._collective_timeout() is None
    monkeypatch.setenv(S.COLLECTIVE_TIMEOUT_ENV, "soon")
    with pytest.raises(ValueError, match="seconds"):
        S._collective_timeout()


SPLIT_CPU = """
import os, tensorflow as tf
from tfs2s.training.strategies import configure_cpu_devices, make_strategy
assert configure_cpu_devices() == 2            # from TFS2S_CPU_DEVICES
assert configure_cpu_devices(2) == 2           # idempotent
print(len(tf.config.list_logical_devices("CPU")), make_strategy("mirrored").num_replicas_in_sync)
try:
    configure_cpu_devices(3)
except RuntimeError as e:
    print("late:", e)
"""


def test_cpu_split_into_logical_devices_gives_mirrored_replicas():
    # Logical devices must be set before TensorFlow initialises: a fresh process.
    env = dict(os.environ, PYTHONPATH=str(ROOT), TF_CPP_MIN_LOG_LEVEL="3", TFS2S_CPU_DEVICES="2")
    done = subprocess.run(
        [sys.executable, "-c", SPLIT_CPU], capture_output=True, text=True, timeout=120, env=env
    )
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.strip().splitlines()
    assert lines[0] == "2 2"
    assert lines[1].startswith("late:") and "already initialised 2 CPU device(s)" in lines[1]


def test_a_failed_peer_is_named_with_how_to_resume():
    import tensorflow as tf

    error = tf.errors.UnavailableError(None, None, "Socket closed\nmore detail")
    message = S.worker_failure_message(fake_strategy(CLUSTER, "worker", 1), error)
    assert message.startswith("multi-worker training stopped on worker1: a peer worker failed")
    assert "(UnavailableError: Socket closed)" in message and "more detail" not in message
    assert "training resumes from the last epoch" in message
    assert tf.errors.UnavailableError in S.PEER_ERRORS
