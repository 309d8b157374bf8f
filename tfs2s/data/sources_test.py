import pytest

from tfs2s.config import DataConfig
from tfs2s.data.sources import load_data, load_source


def test_folds_and_data_map_are_refused_where_no_reader_reads_them(tmp_path):
    with pytest.raises(ValueError, match=r"data.folds='f.json' is not read for the built-in"):
        load_data(DataConfig(folds="f.json", synthetic_segments=60))
    pickle = tmp_path / "aligned.pkl"
    pickle.write_bytes(b"not read")
    with pytest.raises(ValueError, match=r"data.folds='f.json' is not read for the aligned pickle"):
        load_source(DataConfig(path=str(pickle), folds="f.json", trust_pickle=True))
    with pytest.raises(ValueError, match=r"data.data_map=.* is not read for the aligned pickle"):
        load_data(DataConfig(path=str(pickle), data_map={"text": "t"}, trust_pickle=True))
