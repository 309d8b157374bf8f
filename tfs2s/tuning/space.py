"""The hyper-parameter search space: config keys and the values each may take.

Every hyper-parameter is named by the :class:`~tfs2s.config.RunConfig` key it sets
(``model.hidden``, ``train.learning_rate``, ...), so a trial's values are config
overrides and the best trial is a config that ``train.py --config`` accepts.

Default space (:data:`DEFAULT_SPACE`)::

    model.hidden:             choice [16, 32, 64, 128]    seq2seq only
    model.depth:              int 1..2                    seq2seq only
    model.bidirectional:      boolean                     seq2seq only
    model.decoder_attention:  boolean                     seq2seq only
    model.dropout:            float 0.0..0.5 step 0.1
    model.regressor_hidden:   choice [16, 32, 64]
    train.learning_rate:      float 1e-4..1e-2 log
    train.batch_size:         choice [16, 32, 64]
    train.translation_weight: float 0.1..3.0 log          seq2seq, train.mode=joint only

Keys a topology does not read (an encoder size for a baseline, the translation weight in
``two_phase`` mode) are left out of its search, so no trial differs only in a value that
is read nowhere.

A ``--space FILE.yaml`` overrides the default key by key; ``null`` drops a key; any
config key may be added::

    model.hidden: {type: choice, values: [8, 16]}
    model.depth: {type: int, min: 1, max: 3, step: 1}
    model.dropout: {type: float, min: 0.0, max: 0.3, step: 0.1}
    train.learning_rate: {type: float, min: 1.0e-4, max: 1.0e-2, sampling: log}
    model.bidirectional: {type: boolean}
    model.regressor_depth: {type: fixed, value: 2}
    train.batch_size: null

The regularisation and selection keys of the recipes are searchable the same way::

    model.recurrent_dropout: {type: float, min: 0.0, max: 0.3, step: 0.1}
    model.layer_norm: {type: boolean}
    train.optimizer: {type: choice, values: [adam, adamw]}
    train.weight_decay: {type: float, min: 1.0e-5, max: 1.0e-2, sampling: log}
    train.clipnorm: {type: choice, values: [0.5, 1.0, 5.0]}
    train.modality_dropout: {type: float, min: 0.0, max: 0.9, step: 0.1}
    train.modality_dropout_keep: {type: choice, values: [none, text]}
    train.select_metric: {type: choice, values: [loss, mae, f1_2]}
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from tfs2s.config import SECTIONS, RunConfig, dump_yaml_text, is_read, load_yaml_text, valid_keys

TYPES: tuple[str, ...] = ("choice", "int", "float", "boolean", "fixed")
SAMPLINGS: tuple[str, ...] = ("linear", "log", "reverse_log")
_FIELDS: dict[str, set[str]] = {
    "choice": {"values"},
    "int": {"min", "max", "step", "sampling"},
    "float": {"min", "max", "step", "sampling"},
    "boolean": set(),
    "fixed": {"value"},
}
_REQUIRED: dict[str, set[str]] = {
    "choice": {"values"},
    "int": {"min", "max"},
    "float": {"min", "max"},
    "boolean": set(),
    "fixed": {"value"},
}

#: The epoch budget Hyperband gives a trial (a hyper-parameter of its trials).
HYPERBAND_EPOCHS = "tuner/epochs"
#: Keys that are not hyper-parameters of a trial.
NOT_TUNABLE: tuple[str, ...] = (
    "topology",
    "recipe",
    "train.strategy",
    "train.seed",
    "data.trust_pickle",
)


@dataclasses.dataclass(frozen=True)
class HParam:
    """One hyper-parameter: the config key it sets and the values it may take.

    Attributes:
        key: config key, e.g. ``model.hidden``.
        type: one of :data:`TYPES`.
        values: ``choice``: the candidates.
        min, max, step, sampling: ``int``/``float`` range (``step`` optional; ``sampling``
            ``linear``, ``log`` or ``reverse_log``).
        value: ``fixed``: the value.
    """

    key: str
    type: str
    values: tuple[Any, ...] = ()
    min: float | None = None
    max: float | None = None
    step: float | None = None
    sampling: str = "linear"
    value: Any = None

    def declare(self, hp) -> Any:
        """Register this hyper-parameter on a ``keras_tuner.HyperParameters``; its value."""
        if self.type == "choice":
            return hp.Choice(self.key, list(self.values))
        if self.type == "int":
            step = int(self.step) if self.step is not None else None
            return hp.Int(self.key, int(self.min), int(self.max), step=step, sampling=self.sampling)
        if self.type == "float":
            return hp.Float(
                self.key, float(self.min), float(self.max), step=self.step, sampling=self.sampling
            )
        if self.type == "boolean":
            return hp.Boolean(self.key)
        return hp.Fixed(self.key, self.value)

    def to_dict(self) -> dict[str, Any]:
        if self.type == "choice":
            return {"type": "choice", "values": list(self.values)}
        if self.type in ("int", "float"):
            out = {"type": self.type, "min": self.min, "max": self.max}
            if self.step is not None:
                out["step"] = self.step
            if self.sampling != "linear":
                out["sampling"] = self.sampling
            return out
        if self.type == "fixed":
            return {"type": "fixed", "value": self.value}
        return {"type": "boolean"}


DEFAULT_SPACE: dict[str, HParam] = {
    p.key: p
    for p in (
        HParam("model.hidden", "choice", values=(16, 32, 64, 128)),
        HParam("model.depth", "int", min=1, max=2),
        HParam("model.bidirectional", "boolean"),
        HParam("model.decoder_attention", "boolean"),
        HParam("model.dropout", "float", min=0.0, max=0.5, step=0.1),
        HParam("model.regressor_hidden", "choice", values=(16, 32, 64)),
        HParam("train.learning_rate", "float", min=1e-4, max=1e-2, sampling="log"),
        HParam("train.batch_size", "choice", values=(16, 32, 64)),
        HParam("train.translation_weight", "float", min=0.1, max=3.0, sampling="log"),
    )
}


def parse_hparam(key: str, spec: Any, where: str = "search space") -> HParam:
    """Check one ``key: {type: ..., ...}`` entry; errors name the file, key and field."""
    if key not in valid_keys() or key in NOT_TUNABLE:
        tunable = [k for k in valid_keys() if k not in NOT_TUNABLE]
        raise ValueError(f"{where}: {key!r} is not a tunable config key; expected one of {tunable}")
    if not isinstance(spec, Mapping):
        raise ValueError(
            f"{where}: {key}: expected a mapping such as {{type: choice, values: [16, 32]}}, "
            f"found {spec!r}"
        )
    kind = spec.get("type")
    if kind not in TYPES:
        raise ValueError(f"{where}: {key}.type: expected one of {list(TYPES)}, found {kind!r}")
    extra = set(spec) - {"type"} - _FIELDS[kind]
    if extra:
        raise ValueError(
            f"{where}: {key}: unknown field(s) {sorted(extra)} for type {kind}; "
            f"expected {sorted(_FIELDS[kind])}"
        )
    missing = _REQUIRED[kind] - set(spec)
    if missing:
        raise ValueError(f"{where}: {key}: type {kind} needs {sorted(missing)}")
    if kind == "choice":
        values = spec["values"]
        if not isinstance(values, list) or not values:
            raise ValueError(f"{where}: {key}.values: expected a non-empty list, found {values!r}")
        if len({type(v) for v in values}) > 1:
            raise ValueError(
                f"{where}: {key}.values: all values must have one type, found {values!r}"
            )
        param = HParam(key, kind, values=tuple(values))
    elif kind in ("int", "float"):
        lo, hi = spec["min"], spec["max"]
        for name, v in (("min", lo), ("max", hi), ("step", spec.get("step"))):
            if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float))):
                raise ValueError(f"{where}: {key}.{name}: expected a number, found {v!r}")
        if kind == "int" and not all(
            float(v) == int(v) for v in (lo, hi, spec.get("step", 1) or 1)
        ):
            raise ValueError(f"{where}: {key}: an int range needs integer min/max/step")
        if not lo <= hi:
            raise ValueError(f"{where}: {key}: expected min <= max, found {lo} > {hi}")
        step = spec.get("step")
        if step is not None and not step > 0:
            raise ValueError(f"{where}: {key}.step: expected a number > 0, found {step!r}")
        if step is not None and hi > lo and step > hi - lo:
            raise ValueError(
                f"{where}: {key}.step: expected at most max - min ({hi - lo}), found {step!r}"
            )
        section, _, field = key.partition(".")
        hint = typing.get_type_hints(SECTIONS[section])[field]
        if kind == "float" and float not in (hint, *typing.get_args(hint)):
            raise ValueError(
                f"{where}: {key}: type float draws fractional values but {key} takes "
                f"integers; expected type int"
            )
        sampling = spec.get("sampling", "linear")
        if sampling not in SAMPLINGS:
            raise ValueError(
                f"{where}: {key}.sampling: expected one of {list(SAMPLINGS)}, found {sampling!r}"
            )
        if sampling != "linear" and lo <= 0:
            raise ValueError(f"{where}: {key}: {sampling} sampling needs min > 0, found {lo}")
        param = HParam(key, kind, min=lo, max=hi, step=spec.get("step"), sampling=sampling)
    elif kind == "fixed":
        param = HParam(key, kind, value=spec["value"])
    else:
        param = HParam(key, kind)
    _check_values(param, where)
    return param


def _check_values(param: HParam, where: str) -> None:
    """Every candidate must be a valid value of its config key (type and range)."""
    if param.type == "choice":
        candidates = list(param.values)
    elif param.type in ("int", "float"):
        candidates = [param.min, param.max]
    elif param.type == "boolean":
        candidates = [True, False]
    else:
        candidates = [param.value]
    for value in candidates:
        try:
            RunConfig().replace(**{param.key: value})
        except ValueError as e:
            raise ValueError(f"{where}: {param.key}: candidate {value!r} is invalid: {e}") from None


def load_space(path: str | Path | None) -> dict[str, HParam]:
    """The default space with the overrides of ``path`` (see the module docstring)."""
    space = dict(DEFAULT_SPACE)
    if path is None:
        return space
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"search space file {path} does not exist")
    try:
        loaded = load_yaml_text(path.read_text()) or {}
    except yaml.YAMLError as e:
        raise ValueError(f"search space file {path}: not valid YAML: {e}") from None
    if not isinstance(loaded, Mapping):
        raise ValueError(
            f"search space file {path}: expected a mapping of config keys, found "
            f"{type(loaded).__name__}"
        )
    for key, spec in loaded.items():
        if spec is None:
            space.pop(key, None)
            continue
        space[key] = parse_hparam(str(key), spec, where=f"search space file {path}")
    return space


def applicable(space: Mapping[str, HParam], cfg: RunConfig) -> dict[str, HParam]:
    """The part of ``space`` that ``cfg``'s topology and training mode actually read."""
    return {key: param for key, param in space.items() if is_read(key, cfg)}


def without_fixed(
    space: Mapping[str, HParam], fixed: Mapping[str, Any], log=print
) -> dict[str, HParam]:
    """``space`` without the keys the user fixed on the command line, with one note each.

    Args:
        space: the search space.
        fixed: config key -> the value the user set (``--set``, ``--batch-size``, ...).
        log: called with one line per dropped key.
    """
    out = {}
    for key, param in space.items():
        if key in fixed:
            log(
                f"tfs2s: note: {key} is fixed at {fixed[key]!r} (set on the command line), "
                "so it is not searched"
            )
            continue
        out[key] = param
    return out


def dump_space(space: Mapping[str, HParam], path: str | Path) -> None:
    """Write ``space`` in the ``--space`` YAML format."""
    Path(path).write_text(dump_yaml_text({k: p.to_dict() for k, p in space.items()}))
