"""Pick the data source a :class:`~tfs2s.config.DataConfig` names.

``path`` None -> built-in synthetic CMU-MOSI; a prepared cache directory ->
streamed TFRecords; a directory of ``.csd`` files -> CMU-SDK reader with word
alignment; a ``.pkl``/``.pickle`` file -> aligned pickle (needs ``trust_pickle``).
"""

from __future__ import annotations

from pathlib import Path

from tfs2s.config import DataConfig
from tfs2s.data.dataset import MosiData

PICKLE_SUFFIXES = (".pkl", ".pickle")


def _unread(cfg: DataConfig, what: str, keys: tuple[str, ...] = ("folds", "data_map")) -> None:
    """A data setting this source cannot use is an error, not silently ignored."""
    for key in keys:
        if getattr(cfg, key) is not None:
            raise ValueError(
                f"config data.{key}={getattr(cfg, key)!r} is not read for {what}; "
                f"unset it (data.{key} applies to a directory of .csd files)"
            )


def load_data(cfg: DataConfig) -> MosiData:
    """Read raw data into memory (not valid for a prepared cache: use :func:`load_source`)."""
    if cfg.path is None:
        _unread(cfg, "the built-in synthetic data (it has its own splits)")
        from tfs2s.data.synthetic import make_synthetic

        return make_synthetic(
            seed=cfg.synthetic_seed,
            segments=cfg.synthetic_segments,
            max_seq_len=cfg.max_seq_len,
            truncate=cfg.truncate,
        )
    path = Path(cfg.path)
    if not path.exists():
        raise FileNotFoundError(
            f"data path {path} does not exist; expected a directory of .csd files, a prepared "
            "cache directory or an aligned .pkl file"
        )
    if path.is_file():
        if path.suffix.lower() in PICKLE_SUFFIXES:
            from tfs2s.data.pickles import load_aligned_pickle

            _unread(cfg, f"the aligned pickle {path} (it holds its own splits)")
            return load_aligned_pickle(
                str(path),
                trust=cfg.trust_pickle,
                max_seq_len=cfg.max_seq_len,
                truncate=cfg.truncate,
            )
        raise ValueError(
            f"data path {path}: expected a directory of .csd files, a prepared cache directory or "
            f"a {'/'.join(PICKLE_SUFFIXES)} aligned pickle, found a {path.suffix or 'suffix-less'} file"
        )
    from tfs2s.data.cache import META, is_cache, read_meta

    if is_cache(str(path)):
        raise ValueError(
            f"{path} is a prepared cache; it is streamed by load_source(), not loaded in memory"
        )
    if (path / META).is_file() and not any(path.glob("*.csd")):
        # A cache whose meta.json is damaged: say what is wrong with it, not "no .csd".
        read_meta(path)
    from tfs2s.data.csd import load_csd_dir
    from tfs2s.data.folds import load_folds

    return load_csd_dir(
        str(path),
        data_map=cfg.data_map,
        folds=load_folds(cfg.folds),
        max_seq_len=cfg.max_seq_len,
        truncate=cfg.truncate,
    )


def load_source(cfg: DataConfig):
    """Return a :class:`~tfs2s.data.pipeline.DataSource` for training and evaluation."""
    if cfg.path is not None:
        from tfs2s.data.cache import CachedSource, is_cache

        if Path(cfg.path).is_dir() and is_cache(cfg.path):
            _unread(cfg, f"the prepared cache {cfg.path} (split when it was prepared)")
            source = CachedSource(cfg.path)
            if source.max_seq_len != cfg.max_seq_len:
                raise ValueError(
                    f"cache {cfg.path} was prepared with max_seq_len={source.max_seq_len} but the "
                    f"config asks for data.max_seq_len={cfg.max_seq_len}; prepare it again or set "
                    f"data.max_seq_len={source.max_seq_len}"
                )
            if source.truncate is not None and source.truncate != cfg.truncate:
                raise ValueError(
                    f"cache {cfg.path} was prepared with truncate={source.truncate} but the "
                    f"config asks for data.truncate={cfg.truncate}; prepare it again or set "
                    f"data.truncate={source.truncate}"
                )
            return source
    from tfs2s.data.pipeline import InMemorySource

    return InMemorySource(load_data(cfg))
