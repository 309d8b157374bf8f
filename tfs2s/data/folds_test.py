"""Tests of the standard folds and folds-file validation."""

from __future__ import annotations

import json

import pytest

from tfs2s.data.folds import check_folds, load_folds, standard_folds


def test_standard_folds_are_the_cmu_mosi_ones():
    folds = standard_folds()
    assert {k: len(v) for k, v in folds.items()} == {"train": 52, "valid": 10, "test": 31}
    assert len(set().union(*folds.values())) == 93
    assert folds["train"][0] == "2iD-tVS8NPw"
    assert load_folds(None) == folds


def test_standard_folds_are_a_fresh_copy():
    standard_folds()["train"].clear()
    assert len(standard_folds()["train"]) == 52


def test_load_folds_reads_a_user_file(tmp_path):
    path = tmp_path / "folds.json"
    path.write_text(json.dumps({"train": ["a", "b"], "valid": ["c"], "test": []}))
    assert load_folds(str(path)) == {"train": ["a", "b"], "valid": ["c"], "test": []}


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ("{not json", "not valid JSON"),
        ('["a"]', "expected a JSON object .* found list"),
        ('{"train": [], "valid": []}', r"missing \['test'\]"),
        ('{"train": [], "valid": [], "test": [], "val": []}', r"unknown \['val'\]"),
        ('{"train": "abc", "valid": [], "test": []}', "'train' must be a list .* found str"),
        ('{"train": [1], "valid": [], "test": []}', r"train\[0\] must be a video id .* found 1"),
        (
            '{"train": ["a"], "valid": [], "test": ["b", "a"]}',
            "video 'a' is listed in both 'train' and 'test'",
        ),
        ('{"train": ["a", "a"], "valid": [], "test": []}', "video 'a' is listed twice in 'train'"),
    ],
)
def test_bad_folds_files_name_file_and_problem(tmp_path, content, match):
    path = tmp_path / "my_folds.json"
    path.write_text(content)
    with pytest.raises(ValueError, match=match) as info:
        load_folds(str(path))
    assert "my_folds.json" in str(info.value)


def test_missing_folds_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.json"):
        load_folds(str(tmp_path / "nope.json"))


def test_check_folds_names_source():
    with pytest.raises(ValueError, match="from the caller"):
        check_folds({"train": []}, "from the caller")
