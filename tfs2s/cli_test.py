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
