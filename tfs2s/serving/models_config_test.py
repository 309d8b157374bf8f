"""models.config: a valid ModelServerConfig text proto, checked against the exports on disk."""

from __future__ import annotations

import pytest
from google.protobuf import text_format
from tensorflow_serving.config import model_server_config_pb2

from tfs2s.serving.models_config import (
    ALL,
    LATEST,
    ModelEntry,
    entries_from_root,
    models_config_text,
    parse_label_arg,
    parse_model_arg,
    versions,
)


def _parse(text: str):
    return text_format.Parse(text, model_server_config_pb2.ModelServerConfig())


@pytest.fixture
def root(tmp_path):
    for name, exported in {"tfs2s": (1, 2, 3), "baseline": (1,)}.items():
        for v in exported:
            (tmp_path / name / str(v)).mkdir(parents=True)
    (tmp_path / "tfs2s" / ".tmp-export-abc").mkdir()
    (tmp_path / "not-a-model").mkdir()
    return tmp_path


def test_every_policy_round_trips_through_the_proto(root):
    entries = entries_from_root(
        root,
        [("tfs2s", (2, 3)), ("baseline", ALL)],
        labels=[("tfs2s", "stable", 2), ("tfs2s", "canary", 3)],
    )
    config = _parse(models_config_text(entries))
    first, second = config.model_config_list.config
    assert (first.name, first.base_path, first.model_platform) == (
        "tfs2s",
        "/models/tfs2s",
        "tensorflow",
    )
    assert list(first.model_version_policy.specific.versions) == [2, 3]
    assert dict(first.version_labels) == {"stable": 2, "canary": 3}
    assert second.model_version_policy.WhichOneof("policy_choice") == "all"


def test_default_serves_the_latest_version_of_every_exported_model(root):
    text = models_config_text(entries_from_root(root, container_root="/srv/m", num_latest=2))
    config = _parse(text)
    assert [c.name for c in config.model_config_list.config] == ["baseline", "tfs2s"]
    for c in config.model_config_list.config:
        assert c.base_path == f"/srv/m/{c.name}"
        assert c.model_version_policy.latest.num_versions == 2
    assert "model_config_list {" in text and "latest {" in text


def test_config_is_checked_against_the_exports(root):
    with pytest.raises(
        ValueError, match=r"versions \[4\] are not in .*tfs2s \(found \[1, 2, 3\]\)"
    ):
        entries_from_root(root, [("tfs2s", (3, 4))])
    with pytest.raises(ValueError, match="holds no exported version"):
        entries_from_root(root, [("missing", LATEST)])
    with pytest.raises(ValueError, match="label 'stable' points to version 1, which is not served"):
        entries_from_root(root, [("tfs2s", (2,))], labels=[("tfs2s", "stable", 1)])
    with pytest.raises(ValueError, match="need a specific version policy"):
        entries_from_root(root, [("tfs2s", LATEST)], labels=[("tfs2s", "stable", 1)])
    with pytest.raises(ValueError, match="not listed"):
        entries_from_root(root, [("tfs2s", (2,))], labels=[("baseline", "stable", 1)])
    with pytest.raises(ValueError, match="listed twice"):
        models_config_text([ModelEntry("a", "/m/a"), ModelEntry("a", "/m/a")])
    with pytest.raises(FileNotFoundError, match="does not exist"):
        entries_from_root(root / "nope")


def test_command_line_specs():
    assert parse_model_arg("tfs2s") == ("tfs2s", LATEST)
    assert parse_model_arg("tfs2s:latest") == ("tfs2s", LATEST)
    assert parse_model_arg("tfs2s:all") == ("tfs2s", ALL)
    assert parse_model_arg("tfs2s:1,3") == ("tfs2s", (1, 3))
    assert parse_label_arg("tfs2s:stable=2") == ("tfs2s", "stable", 2)
    for bad in (":1", "tfs2s:x"):
        with pytest.raises(ValueError, match="--model"):
            parse_model_arg(bad)
    with pytest.raises(ValueError, match="--label"):
        parse_label_arg("tfs2s:stable")


def test_conflicting_specs_and_non_ascii_version_dirs(root):
    # each once passed silently: the last label won, a version was served twice
    with pytest.raises(ValueError, match="a version is listed twice"):
        parse_model_arg("tfs2s:1,1")
    labels = [("tfs2s", "stable", 1), ("tfs2s", "stable", 2)]
    with pytest.raises(ValueError, match=r"tfs2s:stable is given twice \(1 and 2\)"):
        entries_from_root(root, [("tfs2s", (1, 2))], labels=labels)
    # TF-Serving reads ASCII version numbers only: '²' crashed int(), '١٢' was version 12
    (root / "tfs2s" / "²").mkdir()
    (root / "tfs2s" / "١٢").mkdir()
    assert versions(root / "tfs2s") == [1, 2, 3]
