"""Typed, frozen run configuration with YAML and ``--set a.b=v`` overrides.

Resolution order (as in the TF Model Garden): defaults -> YAML file -> ``--set``
overrides -> CLI flags. The final config is validated and written next to the run
as ``params.yaml``; every value here is read by some part of the library.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import re
import types
import typing
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import yaml

from tfs2s.topology import parse_topology

# --- Name lists: each defined once here; argparse choices, validation and help derive
# from them (``choices(Mode)``).
Truncate = Literal["head", "tail"]
Mode = Literal["two_phase", "joint"]
Optimizer = Literal["adam", "adamw", "sgd", "rmsprop"]
#: ``model.encoder``: see :mod:`tfs2s.models.encoders` for the contract.
EncoderKind = Literal["lstm"]
Strategy = Literal["auto", "one", "mirrored", "multiworker"]
#: keras-tuner tuners of ``tfs2s tune`` (not a config key: a search setting).
Tuner = Literal["random", "bayesian", "hyperband"]
#: valid-split metrics a search optimises (not a config key: a search setting).
Objective = Literal["mae", "f1_2"]
#: ``train.select_metric``: the valid metric that early stopping and best-weight
#: restoring follow in the phases that regress sentiment.
SelectMetric = Literal["loss", "mae", "f1_2"]
#: Named recipes shipped in ``tfs2s/recipes/<name>.yaml`` (``--recipe``).
Recipe = Literal["poster", "recommended"]
#: ``train.modality_dropout_keep``: ``none`` or the name of a modality never dropped.
KeptModality = Literal["none", "text", "audio", "video"]
#: Whether a smaller or a larger value of a valid metric is better.
METRIC_DIRECTIONS: dict[str, str] = {"loss": "min", "mae": "min", "f1_2": "max"}


def choices(literal: Any) -> tuple[str, ...]:
    """The names of a ``Literal`` name list, in order: ``choices(Mode)``."""
    return typing.get_args(literal)


def one_of(literal: Any) -> str:
    """``a, b or c``: the names of ``literal`` for help texts."""
    names = choices(literal)
    return ", ".join(names[:-1]) + " or " + names[-1] if len(names) > 1 else names[0]


@dataclasses.dataclass(frozen=True)
class DataConfig:
    """Where the data comes from and how segments are shaped.

    Attributes:
        path: ``None`` for the built-in synthetic CMU-MOSI; a directory of ``.csd``
            files; a ``.pkl`` aligned pickle; or a cache written by ``tfs2s data prepare``.
        data_map: modality -> file name in ``path`` (``text``, ``audio``, ``video``,
            ``labels``; ``.csd`` optional); ``None`` uses the SDK's CMU-MOSI names.
        folds: JSON file ``{"train": [video ids], "valid": [...], "test": [...]}``;
            ``None`` uses the standard CMU-MOSI folds shipped in the package.
        max_seq_len: words kept per segment.
        truncate: ``head`` keeps the first words of a long segment, ``tail`` the last.
        trust_pickle: allow unpickling (runs code from the file). Granted by the
            ``--trust-pickle`` flag only: never read from a file (:func:`from_dict`
            drops it) nor written to ``params.yaml``.
        synthetic_seed: seed of the built-in dataset.
        synthetic_segments: total segments of the built-in dataset (2199 = CMU-MOSI).
    """

    path: str | None = None
    data_map: dict[str, str] | None = None
    folds: str | None = None
    max_seq_len: int = 20
    truncate: Truncate = "head"
    trust_pickle: bool = False
    synthetic_seed: int = 0
    synthetic_segments: int = 2199


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """Model sizes (paper/MCTN defaults).

    Attributes:
        encoder: the translation encoder (:mod:`tfs2s.models.encoders`); ``lstm``: stacked
            (bi)LSTMs.
        hidden: LSTM units per direction of each translation encoder layer.
        depth: stacked encoder layers.
        bidirectional: bidirectional encoders (decoder width is then 2 * hidden).
        decoder_attention: decoders attend over the encoder outputs.
        dropout: input dropout of every LSTM (encoders, decoders, regressor): the
            encoders' and the regressor's input sequence, the decoders' previous frames.
        recurrent_dropout: dropout on the recurrent state of every LSTM (encoders,
            decoders, regressor). Keras then runs the LSTM without cuDNN (slower on GPU).
        layer_norm: layer-normalise each encoder's output sequence and the regressor's
            top LSTM outputs (adds a scale and offset per feature).
        regressor_hidden: units of each regressor RNN layer (the poster's K-layer RNN).
        regressor_depth: K, regressor RNN layers.
        source_skip: seq2seq: the regressor reads the standardised source features beside
            the encoder's output sequence (a skip connection around the encoder(s)), so
            the translation-trained representation adds to the source instead of
            replacing it. Off in the poster's recipe (the regressor reads the encoding).
        unroll: unroll every LSTM over the ``max_seq_len`` steps of a batch. Steady
            epochs are 15-25% faster on CPU for the paper's 20 steps (no while-loop per
            step), but the graph takes twice as long or more to trace: on for the
            poster's many short two-phase runs, off in the recommended (joint) recipe,
            whose one large graph traces in 12 s instead of 27 s. Off for long sequences.
        xla_loops: an LSTM that is not unrolled runs as one XLA-compiled loop, forward
            and backward (:class:`~tfs2s.layers.xla_lstm.XlaLSTM`: the same function as
            Keras's loop, to float rounding; falls back to Keras's loop for
            ``recurrent_dropout`` while training). A steady joint ``embed_TV_A`` epoch takes
            about a third less time than with Keras's loop (docs/speed.md); each shape
            compiles once per process (0.2-0.5 s), on a background thread while the step
            graph is built. Off: Keras's while loop. Read only when ``unroll`` is off.
    """

    encoder: EncoderKind = "lstm"
    hidden: int = 32
    depth: int = 1
    bidirectional: bool = True
    decoder_attention: bool = True
    dropout: float = 0.0
    recurrent_dropout: float = 0.0
    layer_norm: bool = False
    regressor_hidden: int = 32
    regressor_depth: int = 1
    source_skip: bool = False
    unroll: bool = True
    xla_loops: bool = True


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """How to train.

    Attributes:
        mode: ``two_phase`` (poster Algorithms 1/2) or ``joint`` (translation + regression).
        epochs: maximum regression epochs (joint: maximum joint epochs).
        translator_epochs: maximum epochs of each translation phase (two_phase).
        batch_size: global batch size.
        learning_rate: optimizer learning rate.
        optimizer: ``adam``, ``adamw``, ``sgd`` or ``rmsprop``. Adam and AdamW update each
            weight with one TensorFlow kernel (:mod:`tfs2s.training.optimizers`).
        weight_decay: decoupled weight decay of every weight (``adamw``: AdamW; other
            optimizers apply it the same way); 0 for none.
        clipnorm: clip each gradient to this L2 norm; ``None`` for no clipping.
        ema_momentum: keep an exponential moving average of the trained weights
            (``average = m * average + (1 - m) * weights`` after every step; Keras's
            optimizer ``use_ema``) and validate, select and keep the averaged weights
            instead of the last step's; ``None`` for none. 0.99 averages over about the
            last 100 steps.
        patience: early-stopping patience on the selection metric (best weights
            restored), in every phase that has a valid split.
        select_metric: what a phase that regresses sentiment (``regression``, ``joint``)
            selects on: ``loss`` (its valid loss), ``mae`` or ``f1_2`` (computed on the
            valid split's predictions once per epoch). Translation phases select on
            their valid translation loss.
        modality_dropout: while training a model whose sentiment input joins several
            modalities (``baseline_TA``, ``concat_TA_V``, ...), each training example,
            with this probability, has one of them (chosen uniformly) replaced by its
            train mean on every word, i.e. zero after standardisation; never more than
            one, so a dropped example still has the others. Applies to the batches of
            the ``regression`` and ``joint`` phases; translation targets are unchanged.
        modality_dropout_keep: the anchor of modality dropout (``text``, ``audio`` or
            ``video``): never dropped, so an example with a dropped modality always keeps
            it and the others are the ones dropped (chosen uniformly); a model whose input
            does not join it gets no modality dropout (dropping one of two weaker
            modalities would take half of its signal away). ``none``: any of the joined
            modalities may be dropped, in every model that joins several. ``text`` in the
            recommended recipe: on cmu-mosi-lite valid, dropping only the audio of
            concat(T+A) beat dropping either; on the built-in data, dropping A or V at 0.7
            in models without text cost baseline_AV 3 points of F1
            (docs/results/recipe-search/README.md).
        translation_weight: weight of the translation loss (joint).
        cycle_weight: weight of the cycle loss translating back to the source (joint).
        finetune_encoder: two_phase: let the regression phase update the encoder(s).
        seed: random seed (weights, shuffling); op determinism is on.
        strategy: ``auto``, ``one``, ``mirrored`` or ``multiworker``.
        jit_compile: XLA-compile the train/predict steps. Keras turns XLA off while
            TensorFlow's op determinism is on, and every tfs2s run turns it on (same seed,
            same metrics), so training ignores it (a note says so); measured without
            determinism on T_V it lost anyway: 63 s to compile the translation step and
            twice the steady epoch. Export (``--jit-compile``, on by default) is where XLA pays.
        steps_per_execution: training batches per compiled call. ``0`` runs a whole epoch
            in one call (fastest: no Python between batches; progress bars and
            per-batch callbacks then update once per epoch; ``1`` under the mirrored and
            multiworker strategies, whose distributed iterators cannot run in Keras'
            multi-step loop); ``1`` one batch per call.
            Other values become their greatest common divisor with the steps per epoch.
        eval_batch_size: batch size of the valid-loss pass after every epoch and of the
            final predictions (no gradients, so it can be large: CMU-MOSI's valid split
            is one batch).
    """

    mode: Mode = "two_phase"
    epochs: int = 30
    translator_epochs: int = 20
    batch_size: int = 32
    learning_rate: float = 1e-3
    optimizer: Optimizer = "adam"
    weight_decay: float = 0.0
    clipnorm: float | None = None
    ema_momentum: float | None = None
    patience: int = 5
    select_metric: SelectMetric = "loss"
    modality_dropout: float = 0.0
    modality_dropout_keep: KeptModality = "none"
    translation_weight: float = 1.0
    cycle_weight: float = 0.0
    finetune_encoder: bool = False
    seed: int = 0
    strategy: Strategy = "auto"
    jit_compile: bool = False
    steps_per_execution: int = 0
    eval_batch_size: int = 1024


POSITIVE: tuple[str, ...] = (
    "train.epochs",
    "data.max_seq_len",
    "data.synthetic_segments",
    "model.hidden",
    "model.depth",
    "model.regressor_hidden",
    "model.regressor_depth",
    "train.batch_size",
    "train.eval_batch_size",
    "train.learning_rate",
)
NON_NEGATIVE: tuple[str, ...] = (
    "train.translator_epochs",
    "train.patience",
    "train.steps_per_execution",
    "train.translation_weight",
    "train.cycle_weight",
    "model.dropout",
    "model.recurrent_dropout",
    "train.weight_decay",
    "train.modality_dropout",
)
#: Rates: a value in [0, 1).
RATES: tuple[str, ...] = ("model.dropout", "model.recurrent_dropout", "train.modality_dropout")


@dataclasses.dataclass(frozen=True)
class RunConfig:
    """Everything a run needs; written to ``params.yaml``.

    Attributes:
        recipe: the named recipe (``tfs2s/recipes/<recipe>.yaml``) the config was built
            on, before ``--config`` and ``--set``; ``poster`` is the library defaults.
    """

    topology: str = "embed_AV_T"
    recipe: Recipe = "poster"
    data: DataConfig = dataclasses.field(default_factory=DataConfig)
    model: ModelConfig = dataclasses.field(default_factory=ModelConfig)
    train: TrainConfig = dataclasses.field(default_factory=TrainConfig)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def replace(self, **overrides: Any) -> RunConfig:
        """Return a copy with dotted-key overrides applied, e.g. ``{"train.seed": 3}``."""
        return apply_overrides(self, overrides)


#: Keys that only a translator (not a baseline) reads.
SEQ2SEQ_ONLY: tuple[str, ...] = (
    "model.encoder",
    "model.source_skip",
    "model.hidden",
    "model.depth",
    "model.bidirectional",
    "model.decoder_attention",
    "train.translation_weight",
    "train.cycle_weight",
    "train.translator_epochs",
    "train.finetune_encoder",
)
#: Keys that only one training mode reads.
MODE_ONLY: dict[str, str] = {
    "train.translation_weight": "joint",
    "train.cycle_weight": "joint",
    "train.translator_epochs": "two_phase",
    "train.finetune_encoder": "two_phase",
}


def droppable_modalities(joined: Sequence[str], keep: str) -> tuple[str, ...]:
    """The modalities modality dropout may drop from a model whose input joins ``joined``
    (``train.modality_dropout_keep`` = ``keep``): none when it joins fewer than two, or
    when ``keep`` is a modality it does not join; else all of them but ``keep``."""
    if len(joined) < 2 or (keep != "none" and keep not in joined):
        return ()
    return tuple(name for name in joined if name != keep)


def is_read(key: str, cfg: RunConfig) -> bool:
    """Whether a run of ``cfg`` (its topology kind and training mode) reads ``key``."""
    topology = parse_topology(cfg.topology)
    if key in SEQ2SEQ_ONLY and topology.is_baseline:
        return False
    joined = topology.inference_modalities
    if key == "train.modality_dropout_keep" and len(joined) < 2:
        return False
    if key == "train.modality_dropout" and not droppable_modalities(
        joined, cfg.train.modality_dropout_keep
    ):
        return False
    return key not in MODE_ONLY or MODE_ONLY[key] == cfg.train.mode


def unread_keys(cfg: RunConfig) -> list[str]:
    """Keys set to a non-default value that a run of ``cfg`` does not read.

    "Non-default" is against ``cfg.recipe``'s values, so a recipe's own settings are not
    reported. ``train.py`` and ``tfs2s tune`` print them as a note (a value that a run cannot use is never
    silently ignored). ``--epochs`` sets both epoch keys, so ``train.translator_epochs``
    is only reported when it differs from ``train.epochs``.
    """
    default = flatten(_recipe_values(cfg.recipe))
    flat = flatten(cfg.to_dict())
    unread = [k for k in flat if flat[k] != default[k] and not is_read(k, cfg)]
    if flat["train.translator_epochs"] == flat["train.epochs"]:
        unread = [k for k in unread if k != "train.translator_epochs"]
    return unread


SECTIONS: dict[str, type] = {"data": DataConfig, "model": ModelConfig, "train": TrainConfig}


def valid_keys() -> list[str]:
    keys = ["topology"]
    for section, cls in SECTIONS.items():
        keys += [f"{section}.{f.name}" for f in dataclasses.fields(cls)]
    return keys + ["recipe"]


def _coerce(key: str, value: Any, annotation: Any) -> Any:
    """Check/convert ``value`` to the field type; raise ValueError naming key, expected, found."""
    hints = annotation
    origin = typing.get_origin(hints)
    args = typing.get_args(hints)
    if origin is Literal:
        if value not in args or isinstance(value, bool):
            raise ValueError(f"config {key}: expected one of {list(args)}, found {value!r}")
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _coerce(key, value, inner[0])
    if hints is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false", "1", "0", "yes", "no"):
            return value.lower() in ("true", "1", "yes")
        raise ValueError(f"config {key}: expected true/false, found {value!r}")
    if hints is int:
        if isinstance(value, bool) or not isinstance(value, (int, str, float)):
            raise ValueError(f"config {key}: expected an integer, found {value!r}")
        if isinstance(value, int):
            return value
        try:
            f = float(value)
        except ValueError:
            raise ValueError(f"config {key}: expected an integer, found {value!r}") from None
        if not math.isfinite(f) or f != int(f):
            raise ValueError(f"config {key}: expected an integer, found {value!r}")
        return int(f)
    if hints is float:
        if isinstance(value, bool):
            raise ValueError(f"config {key}: expected a number, found {value!r}")
        try:
            return float(value)
        except (TypeError, ValueError):
            raise ValueError(f"config {key}: expected a number, found {value!r}") from None
    if hints is str:
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            raise ValueError(f"config {key}: expected a string, found {value!r}")
        return str(value)
    if origin is dict:
        if isinstance(value, str):
            value = parse_data_map(value)
        if not isinstance(value, Mapping):
            raise ValueError(f"config {key}: expected a mapping, found {value!r}")
        return {str(k): str(v) for k, v in value.items()}
    raise TypeError(f"config {key}: unsupported type {hints}")


def parse_data_map(text: str) -> dict[str, str]:
    """Parse ``text=FILE,audio=FILE,...`` into a dict."""
    out = {}
    for item in filter(None, (p.strip() for p in text.split(","))):
        if "=" not in item:
            raise ValueError(f"data map item {item!r}: expected MODALITY=FILE")
        k, v = item.split("=", 1)
        k, v = k.strip(), v.strip()
        if k in out:
            raise ValueError(
                f"data map: {k!r} is mapped twice ({out[k]!r} and {v!r}); expected it once"
            )
        out[k] = v
    return out


def _validate(cfg: RunConfig) -> None:
    parse_topology(cfg.topology)
    flat = flatten(cfg.to_dict())
    for key, value in flat.items():
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"config {key}: expected a finite number, found {value!r}")
    if not 0 <= cfg.train.seed < 2**32:
        raise ValueError(
            f"config train.seed: expected an integer in [0, 2**32 - 1], found {cfg.train.seed}"
        )
    if cfg.data.data_map:
        roles: dict[str, str] = {}
        for role, file in cfg.data.data_map.items():
            if file in roles:
                raise ValueError(
                    f"config data.data_map: {file!r} is mapped to both {roles[file]!r} and "
                    f"{role!r}; expected one file per role"
                )
            roles[file] = role
    if cfg.recipe not in choices(Recipe):
        raise ValueError(
            f"config recipe: expected one of {list(choices(Recipe))}, found {cfg.recipe!r}"
        )
    for section, cls in SECTIONS.items():
        for field, hint in typing.get_type_hints(cls).items():
            key = f"{section}.{field}"
            if typing.get_origin(hint) is Literal and flat[key] not in choices(hint):
                raise ValueError(
                    f"config {key}: expected one of {list(choices(hint))}, found {flat[key]!r}"
                )
    for key in POSITIVE:
        if not flat[key] > 0:
            raise ValueError(f"config {key}: expected a value > 0, found {flat[key]!r}")
    for key in NON_NEGATIVE:
        if not flat[key] >= 0:
            raise ValueError(f"config {key}: expected a value >= 0, found {flat[key]!r}")
    for key in RATES:
        if not flat[key] < 1:
            raise ValueError(f"config {key}: expected a value in [0, 1), found {flat[key]!r}")
    if flat["train.clipnorm"] is not None and not flat["train.clipnorm"] > 0:
        raise ValueError(
            f"config train.clipnorm: expected a value > 0 or null, found {flat['train.clipnorm']!r}"
        )
    ema = flat["train.ema_momentum"]
    if ema is not None and not (isinstance(ema, (int, float)) and 0 < ema < 1):
        raise ValueError(
            f"config train.ema_momentum: expected a value in (0, 1) or null, found {ema!r}"
        )


def flatten(d: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping) and k in SECTIONS and not prefix:
            out.update(flatten(v, key + "."))
        else:
            out[key] = v
    return out


def apply_overrides(cfg: RunConfig, overrides: Mapping[str, Any]) -> RunConfig:
    """Apply dotted-key overrides; unknown keys raise ValueError listing the valid ones."""
    sections = {name: dataclasses.asdict(getattr(cfg, name)) for name in SECTIONS}
    top = {"topology": cfg.topology, "recipe": cfg.recipe}
    for key, value in overrides.items():
        if key in top:
            top[key] = _coerce(key, value, typing.get_type_hints(RunConfig)[key])
            continue
        section, _, field = key.partition(".")
        if section not in SECTIONS or field not in sections[section]:
            raise ValueError(f"unknown config key {key!r}; valid keys: {', '.join(valid_keys())}")
        ftype = typing.get_type_hints(SECTIONS[section])[field]
        sections[section][field] = _coerce(key, value, ftype)
    new = RunConfig(**top, **{name: SECTIONS[name](**vals) for name, vals in sections.items()})
    _validate(new)
    return new


def from_dict(d: Mapping[str, Any], base: RunConfig | None = None) -> RunConfig:
    """Build a config from a nested dict such as a loaded ``params.yaml``."""
    if not isinstance(d, Mapping):
        raise ValueError(f"config must be a mapping, found {type(d).__name__}")
    flat = {}
    for k, v in d.items():
        if k in SECTIONS:
            if v is None:
                continue
            if not isinstance(v, Mapping):
                raise ValueError(f"config section {k!r} must be a mapping, found {v!r}")
            flat.update({f"{k}.{kk}": vv for kk, vv in v.items()})
        else:
            flat[k] = v
    # A file never grants trust to unpickle: only the --trust-pickle flag does.
    flat.pop(UNTRUSTED_KEY, None)
    return apply_overrides(base or RunConfig(), flat)


#: Never read from or written to a config file.
UNTRUSTED_KEY = "data.trust_pickle"


def recorded(cfg: RunConfig) -> dict[str, Any]:
    """What ``params.yaml`` records of ``cfg``: everything but the trust to unpickle."""
    d = cfg.to_dict()
    d["data"] = {k: v for k, v in d["data"].items() if k != "trust_pickle"}
    return d


class UniqueKeyLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses a mapping key given twice (plain YAML keeps the
    last one without a word, so a config file would silently lose a setting)."""


def _unique_mapping(loader: UniqueKeyLoader, node, deep: bool = False):
    seen = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            line = key_node.start_mark.line + 1
            raise yaml.constructor.ConstructorError(
                None, None, f"key {key!r} is given twice (again on line {line})"
            )
        seen.add(key)
    return loader.construct_mapping(node, deep)


UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _unique_mapping)

# Numbers as YAML 1.2 (and as a user means them), not 1.1: ``010`` is ten (1.1: octal 8),
# ``1:20`` and ``0x20`` are strings that the config refuses (1.1: 80 and 32), and ``1e-3``
# is a float (1.1: the string "1e-3").
_INT_TAG, _FLOAT_TAG = "tag:yaml.org,2002:int", "tag:yaml.org,2002:float"
#: (tag, pattern, first characters) of the YAML 1.2 numbers.
_NUMBERS = (
    (_INT_TAG, re.compile(r"^[-+]?[0-9]+$"), list("-+0123456789")),
    (
        _FLOAT_TAG,
        re.compile(
            r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
            r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
        ),
        list("-+0123456789."),
    ),
)
UniqueKeyLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag not in (_INT_TAG, _FLOAT_TAG)]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
for _tag, _regexp, _first in _NUMBERS:
    UniqueKeyLoader.add_implicit_resolver(_tag, _regexp, _first)
UniqueKeyLoader.add_constructor(_INT_TAG, lambda loader, node: int(loader.construct_scalar(node)))


def load_yaml_text(text: str):
    """YAML as tfs2s reads it everywhere: a key given twice is an error, numbers as in
    YAML 1.2 (see :class:`UniqueKeyLoader`)."""
    return yaml.load(text, Loader=UniqueKeyLoader)


class _Dumper(yaml.SafeDumper):
    """``yaml.SafeDumper`` that also quotes a string :func:`load_yaml_text` would read as
    a number (``"1e5"``: YAML 1.1 leaves it plain, 1.2 reads a float), so what tfs2s
    writes reads back the same in both."""


for _tag, _regexp, _first in _NUMBERS:
    _Dumper.add_implicit_resolver(_tag, _regexp, _first)


def dump_yaml_text(data) -> str:
    """``data`` as YAML that both :func:`load_yaml_text` and ``yaml.safe_load`` read back
    unchanged (keys in their order)."""
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False)


def load_yaml(path: str | Path, base: RunConfig | None = None) -> RunConfig:
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"config file {path}: expected a YAML file, found a directory")
    if not path.is_file():
        raise FileNotFoundError(f"config file {path} does not exist")
    try:
        loaded = load_yaml_text(path.read_text(encoding="utf-8")) or {}
    except UnicodeDecodeError as e:
        raise ValueError(f"config file {path}: not a text (UTF-8) file: {e.reason}") from None
    except yaml.YAMLError as e:
        first = str(e).strip().splitlines()[0]
        raise ValueError(f"config file {path}: not valid YAML: {first}") from None
    except OSError as e:
        raise ValueError(f"config file {path}: cannot read it: {e.strerror or e}") from None
    data = loaded.get("data") if isinstance(loaded, Mapping) else None
    if isinstance(data, Mapping) and data.get("trust_pickle"):
        import sys

        print(
            f"tfs2s: note: data.trust_pickle in {path} is ignored; only --trust-pickle "
            "grants trust",
            file=sys.stderr,
        )
    try:
        return from_dict(loaded, base)
    except ValueError as e:
        raise ValueError(f"config file {path}: {e}") from None


def parse_set(items: Iterable[str]) -> dict[str, Any]:
    """Parse ``["a.b=v", ...]``; values are read as YAML scalars (``true``, ``3``, ``1e-3``;
    numbers as in YAML 1.2: ``010`` is ten)."""
    out = {}
    for item in items:
        if "=" not in item:
            raise ValueError(f"--set {item!r}: expected KEY=VALUE, e.g. train.epochs=5")
        k, v = item.split("=", 1)
        try:
            out[k.strip()] = load_yaml_text(v) if v.strip() else None
        except yaml.YAMLError:
            out[k.strip()] = v
    return out


def dump_yaml(cfg: RunConfig, path: str | Path) -> None:
    """Write ``cfg`` atomically (temp file + rename)."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(dump_yaml_text(recorded(cfg)))
    tmp.replace(path)


RECIPE_DIR = Path(__file__).resolve().parent / "recipes"


def recipe_path(name: str) -> Path:
    """The YAML file of recipe ``name``."""
    if name not in choices(Recipe):
        raise ValueError(f"--recipe: expected one of {list(choices(Recipe))}, found {name!r}")
    return RECIPE_DIR / f"{name}.yaml"


@functools.cache
def _recipe_values(name: str) -> dict[str, Any]:
    return load_recipe(name).to_dict()


def load_recipe(name: str) -> RunConfig:
    """The library defaults with recipe ``name``'s values: the first layer of a config,
    under ``--config`` and ``--set``; ``recipe`` records the name."""
    return load_yaml(recipe_path(name)).replace(recipe=name)
