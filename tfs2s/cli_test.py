import pytest

from tfs2s import cli
from tfs2s.training import strategies


def test_a_failed_peer_is_one_error_line_and_exit_code_3(monkeypatch, capsys):
    # The multi-process version (a killed worker) runs under `pytest -m slow`.
    def fail(args):
        raise strategies.WorkerFailure("multi-worker training stopped on worker0: a peer failed")

    monkeypatch.setattr(cli, "_cmd_train", fail)
    assert cli.main(["train", "--topology", "T_V"]) == 3
    err = capsys.readouterr().err
    assert err == "tfs2s: error: multi-worker training stopped on worker0: a peer failed\n"


def test_ctrl_c_is_one_line_and_exit_code_130(monkeypatch, capsys):
    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "_cmd_train", interrupted)
    assert cli.main(["train", "--topology", "T_V"]) == 130
    err = capsys.readouterr().err
    assert err.startswith("tfs2s: interrupted;") and err.count("\n") == 1
    with pytest.raises(KeyboardInterrupt):
        cli.main(["train", "--topology", "T_V", "--debug"])


def test_building_the_parser_does_not_import_tensorflow():
    # TensorFlow's start-up noise is hidden only if it is first imported after
    # console.quiet_tensorflow(), which main() calls once the arguments are parsed.
    import subprocess
    import sys

    code = (
        "import sys; from tfs2s.cli import build_parser; build_parser(); "
        "print('tensorflow' in sys.modules, 'keras' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_the_console_entry_flushes_its_output_and_keeps_the_exit_code(tmp_path):
    import subprocess
    import sys

    # stdout is a pipe here (block-buffered): run() must flush it before os._exit
    code = "from tfs2s.cli import run; run(['train', '--list-topologies'])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0 and "embed_AV_T" in out.stdout
    missing = tmp_path / "missing"
    code = f"from tfs2s.cli import run; run(['train', '--topology', 'T_A', '--data', {str(missing)!r}])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 2
    assert out.stderr.strip().startswith("tfs2s: error:") and str(missing) in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1
