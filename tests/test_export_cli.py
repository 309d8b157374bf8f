"""End-to-end tests of ``export/export.py``, ``tfs2s export`` and ``export/make_models_config.py``."""

import json

import pytest
from conftest import VERSION_FILES, run_cli
from google.protobuf import text_format
from tensorflow_serving.config import model_server_config_pb2

from tfs2s.cli import build_parser, main
from tfs2s.inference.testing import tiny_finished_run


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    return tiny_finished_run(tmp_path_factory.mktemp("runs"))


def test_export_parsers_share_their_defaults():
    args = build_parser().parse_args(["export", "--run", "r"])
    defaults = (args.run, args.name, args.out, args.jit_compile, args.verify)
    assert defaults == ("r", "tfs2s", "serving", True, True)
    args = build_parser().parse_args(["export", "--run", "r", "--no-jit-compile", "--no-verify"])
    assert (args.jit_compile, args.verify) == (False, False)
    args = build_parser().parse_args(["models-config"])
    assert (args.root, args.container_root, args.latest) == ("serving", "/models", 1)


def test_export_script_then_tfs2s_export_then_models_config(run_dir, tmp_path, capsys):
    # The default export (XLA, verified against Keras) runs in the README-path tests
    # (tests/test_readme_paths.py); here the script without them, then ``tfs2s export`` with
    # XLA in this process, unverified.
    out = tmp_path / "serving"
    flags = ["--no-jit-compile", "--no-verify"]
    res = run_cli(["export/export.py", "--run", run_dir, "--out", str(out), *flags])
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-3000:]
    report = json.loads(res.stdout[res.stdout.index("{") :])
    assert report["version"] == 1 and report["name"] == "tfs2s" and report["topology"] == "T_A"
    assert report["signatures"] == ["serving_default", "translate"]
    assert report["inputs"] == {"text": 300}
    assert "verify_run" not in report["seconds"]
    v1 = out / "tfs2s" / "1"
    for name in VERSION_FILES:
        assert (v1 / name).exists(), name
    meta = json.loads((v1 / "assets.extra/tfs2s.json").read_text())
    assert meta["jit_compile"] is False and meta["server_flags"] == []

    capsys.readouterr()
    assert main(["export", "--run", run_dir, "--out", str(out), "--no-verify"]) == 0
    printed = capsys.readouterr().out
    assert json.loads(printed[printed.index("{") :])["version"] == 2
    assert sorted(p.name for p in (out / "tfs2s").iterdir()) == ["1", "2"]
    meta = json.loads((out / "tfs2s" / "2" / "assets.extra/tfs2s.json").read_text())
    assert meta["jit_compile"] is True
    assert meta["server_flags"] == ["--xla_cpu_compilation_enabled=true"]

    res = run_cli(
        [
            "export/make_models_config.py",
            "--root",
            str(out),
            "--model",
            "tfs2s:1,2",
            "--label",
            "tfs2s:stable=1",
            "--label",
            "tfs2s:canary=2",
        ]
    )
    assert res.returncode == 0, res.stderr[-3000:]
    config = text_format.Parse(
        (out / "models.config").read_text(), model_server_config_pb2.ModelServerConfig()
    )
    (entry,) = config.model_config_list.config
    assert entry.name == "tfs2s" and entry.base_path == "/models/tfs2s"
    assert list(entry.model_version_policy.specific.versions) == [1, 2]
    assert dict(entry.version_labels) == {"stable": 1, "canary": 2}


def test_export_of_a_missing_run_fails_clearly(tmp_path, capsys):
    assert main(["export", "--run", str(tmp_path / "nope"), "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("tfs2s: error: ") and len(err.strip().splitlines()) == 1
    assert "params.yaml does not exist" in err and "tfs2s train" in err
    res = run_cli(["export/make_models_config.py", "--root", str(tmp_path), "--model", "x:3"])
    assert res.returncode == 2 and "model x" in res.stderr
