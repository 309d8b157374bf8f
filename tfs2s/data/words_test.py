import numpy as np

from tfs2s.config import DataConfig
from tfs2s.data.csd import load_csd_dir
from tfs2s.data.testing import write_csd
from tfs2s.data.words import find_words_file, segment_words

WORDS = [b"so", b"this", b"movie", b"was", b"great", b"fun"]


def _sdk_dir(tmp_path):
    """One video, six words of 1 s, two labelled segments of 3 s; the words file is
    stored out of time order (the reader sorts words by start)."""
    iv = np.stack([np.arange(6.0), np.arange(6.0) + 1], axis=1)
    vectors = np.arange(12, dtype=np.float32).reshape(6, 2)
    write_csd(tmp_path / "CMU_MOSI_TimestampedWordVectors.csd", "vectors", {"v": (vectors, iv)})
    order = np.array([3, 0, 5, 1, 4, 2])
    words = np.array(WORDS, dtype="S8").reshape(6, 1)[order]
    write_csd(tmp_path / "CMU_MOSI_TimestampedWords.csd", "Words", {"v": (words, iv[order])})
    labels = np.array([[1.0], [-1.0]], np.float32)
    label_iv = np.array([[0.0, 3.0], [3.0, 6.0]])
    write_csd(tmp_path / "CMU_MOSI_Opinion_Labels.csd", "labels", {"v": (labels, label_iv)})
    return tmp_path


def test_segment_words_follow_the_reader(tmp_path):
    directory = _sdk_dir(tmp_path)
    assert find_words_file(directory) == directory / "CMU_MOSI_TimestampedWords.csd"
    cfg = DataConfig(path=str(directory), max_seq_len=2)
    found = segment_words(directory, find_words_file(directory), ["v_1", "v_2", "w_1"], cfg)
    assert found == {"v_1": ["so", "this"], "v_2": ["was", "great"]}
    tail = DataConfig(path=str(directory), max_seq_len=2, truncate="tail")
    assert segment_words(directory, find_words_file(directory), ["v_2"], tail) == {
        "v_2": ["great", "fun"]
    }
    # as many words as the loaded segment has steps
    folds = {"train": ["v"], "valid": [], "test": []}
    data = load_csd_dir(str(directory), None, folds, max_seq_len=2)
    assert list(data.splits["train"].lengths) == [2, 2]


def test_no_words_file(tmp_path):
    assert find_words_file(tmp_path) is None
    assert find_words_file(None) is None
    assert find_words_file(tmp_path / "x.pkl") is None
