"""Serving signatures: a ``tf.Module`` around the trained Keras models.

The module exposes concrete graph functions with explicit input signatures, so the
SavedModel it is saved into needs neither Keras nor tfs2s to load:

``serving_default``
    inputs: one float32 ``(batch, steps, dim)`` per modality the model reads at
    inference (seq2seq: its source; ``embed_XY_Z``: ``X``; baselines: all they use)
    and ``mask`` float32 ``(batch, steps)``, ``steps <= max_seq_len``.
    outputs: ``sentiment`` float32 ``(batch,)``; ``polarity`` int32 ``(batch,)``,
    0 negative (< 0) / 1 non-negative (>= 0); ``polarity_label`` string
    ``"negative"``/``"non-negative"``; ``sentiment_class`` int32 in -3..3,
    ``round(clip(sentiment, -3, 3))`` rounding half to even; ``attention`` float32
    ``(batch, steps)``, the regressor's soft-attention weight of each request step,
    exactly 0 on padding and summing to 1 over the real steps.
``translate`` (seq2seq and hierarchical models only)
    same inputs; ``translation`` float32 ``(batch, steps, target_dim)`` (the greedy
    decoding of the target modalities, concatenated in :attr:`ServingSpec.targets`
    order) and, for a concat target, one ``translation_<modality>`` output per target.

Inputs are checked inside the graph: TF-Serving feeds tensors to the signature's
placeholders without checking them against the declared shapes, so a wrong rank,
feature size or too many steps must fail with a message naming the input and the
expected shape instead of deep inside an LSTM. Values are checked too (INVALID_ARGUMENT
naming the input): every value finite, the mask 0/1, right-padded, with at least one
real step per example. Steps are padded to ``max_seq_len``
inside the graph, so the Keras model always sees its training shape.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from typing import Any

import tensorflow as tf

from tfs2s import __version__, compat
from tfs2s import modalities as M
from tfs2s.serving import DEFAULT_JIT_COMPILE, XLA_SERVER_FLAGS
from tfs2s.topology import Topology, parse_topology

SERVING_DEFAULT = "serving_default"
TRANSLATE = "translate"

#: Labels of ``polarity`` 0 and 1 (the bc-LSTM binary split: negative < 0 <= non-negative).
POLARITY_LABELS: tuple[str, str] = ("negative", "non-negative")

#: serving_default output name -> (dtype, shape) as shown in the metadata.
SENTIMENT_OUTPUTS: dict[str, tuple[str, str]] = {
    "sentiment": ("float32", "(batch,)"),
    "polarity": ("int32", "(batch,)"),
    "polarity_label": ("string", "(batch,)"),
    "sentiment_class": ("int32", "(batch,)"),
    "attention": ("float32", "(batch, steps)"),
}

#: The sentiment model's outputs the signatures read.
ATTENTION = "attention"

TRANSLATION = "translation"


def translation_output(name: str) -> str:
    """Name of the ``translate`` output holding one target modality of a concat target."""
    return f"{TRANSLATION}_{name}"


@dataclasses.dataclass(frozen=True)
class ServingSpec:
    """What an export serves; saved as JSON metadata beside the SavedModel.

    Attributes:
        topology: topology name, e.g. ``"embed_AV_T"``.
        max_seq_len: the most steps a request may have (the training length).
        inputs: modality name -> feature size, in signature order (``mask`` excluded).
        targets: ``translate``'s modality name -> feature size, in concatenation order;
            empty for baselines.
        jit_compile: the models run XLA-compiled, one program per batch-size bucket
            (powers of two); the model server then needs
            ``--xla_cpu_compilation_enabled=true``.
    """

    topology: str
    max_seq_len: int
    inputs: dict[str, int]
    targets: dict[str, int] = dataclasses.field(default_factory=dict)
    jit_compile: bool = False

    def __post_init__(self) -> None:
        if self.max_seq_len < 1:
            raise ValueError(f"max_seq_len must be >= 1, found {self.max_seq_len}")
        expected = self.parsed.inference_modalities
        if tuple(self.inputs) != expected:
            raise ValueError(
                f"topology {self.topology} reads {list(expected)} at inference, "
                f"found inputs {list(self.inputs)}"
            )
        if self.parsed.is_baseline != (not self.targets):
            raise ValueError(
                f"topology {self.topology}: translate targets {list(self.targets)} do not fit "
                f"its kind {self.parsed.kind!r}"
            )

    @property
    def parsed(self) -> Topology:
        return parse_topology(self.topology)

    @property
    def signature_names(self) -> tuple[str, ...]:
        return (SERVING_DEFAULT,) if not self.targets else (SERVING_DEFAULT, TRANSLATE)

    @property
    def input_names(self) -> tuple[str, ...]:
        """Signature input names: the modalities, then ``mask``."""
        return (*self.inputs, M.MASK)

    def expected(self, name: str) -> str:
        """Human-readable expected dtype and shape of input ``name``."""
        if name == M.MASK:
            return f"float32 (batch, steps<={self.max_seq_len})"
        return f"float32 (batch, steps<={self.max_seq_len}, {self.inputs[name]})"

    def outputs(self, signature: str) -> dict[str, tuple[str, str]]:
        """Output name -> (dtype, shape) of one signature."""
        if signature == SERVING_DEFAULT:
            return dict(SENTIMENT_OUTPUTS)
        if signature != TRANSLATE or not self.targets:
            raise ValueError(f"no signature {signature!r}; expected one of {self.signature_names}")
        out = {TRANSLATION: ("float32", f"(batch, steps, {sum(self.targets.values())})")}
        if len(self.targets) > 1:
            for name, dim in self.targets.items():
                out[translation_output(name)] = ("float32", f"(batch, steps, {dim})")
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description, including the signatures and the tfs2s version."""
        t = self.parsed
        return {
            "format": "tfs2s-serving/1",
            "tfs2s_version": __version__,
            "topology": self.topology,
            "notation": t.notation,
            "kind": t.kind,
            "max_seq_len": self.max_seq_len,
            "inputs": dict(self.inputs),
            "targets": dict(self.targets),
            "polarity_labels": list(POLARITY_LABELS),
            "jit_compile": self.jit_compile,
            "server_flags": list(XLA_SERVER_FLAGS) if self.jit_compile else [],
            "signatures": {
                sig: {
                    "inputs": {n: self.expected(n) for n in self.input_names},
                    "outputs": {n: f"{d} {s}" for n, (d, s) in self.outputs(sig).items()},
                }
                for sig in self.signature_names
            },
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ServingSpec:
        return cls(
            topology=d["topology"],
            max_seq_len=int(d["max_seq_len"]),
            inputs={k: int(v) for k, v in d["inputs"].items()},
            targets={k: int(v) for k, v in d.get("targets", {}).items()},
            jit_compile=bool(d.get("jit_compile", False)),
        )


def _feature_dims(model, what: str) -> dict[str, int]:
    """Modality name -> feature size of a Keras model's dict inputs (``mask`` excluded)."""
    structure = model.input
    if not isinstance(structure, Mapping):
        raise ValueError(f"{what} must take a dict of named inputs, found {type(structure)}")
    return {k: int(v.shape[-1]) for k, v in structure.items() if k != M.MASK}


def spec_from_models(
    topology: str | Topology,
    sentiment_model,
    translator=None,
    *,
    max_seq_len: int,
    target_dims: Mapping[str, int] | None = None,
    jit_compile: bool = DEFAULT_JIT_COMPILE,
) -> ServingSpec:
    """Describe what ``sentiment_model`` (and ``translator``) serve.

    Args:
        topology: the run's topology.
        sentiment_model: Keras model ``{modalities..., "mask"} -> {"sentiment", "attention"}``.
        translator: Keras model ``{sources..., "mask"} -> {"translation"}``, or None.
        max_seq_len: the run's ``data.max_seq_len``.
        target_dims: feature size of each target modality; needed only to split a concat
            target, otherwise read off the translator's output.
        jit_compile: see :attr:`ServingSpec.jit_compile`.
    """
    t = parse_topology(topology) if isinstance(topology, str) else topology
    dims = _feature_dims(sentiment_model, "the sentiment model")
    found = sorted(sentiment_model.output) if isinstance(sentiment_model.output, Mapping) else []
    if "sentiment" not in found or ATTENTION not in found:
        raise ValueError(
            f"the sentiment model must output 'sentiment' and {ATTENTION!r}, found {found}"
        )
    inputs = {}
    for name in t.inference_modalities:
        if name not in dims:
            raise ValueError(
                f"topology {t.name} reads {name!r} at inference but the sentiment model's "
                f"inputs are {sorted(dims)}"
            )
        inputs[name] = dims[name]
    targets: dict[str, int] = {}
    if translator is not None and not t.is_baseline:
        total = int(translator.output[TRANSLATION].shape[-1])
        names = [M.name_of(c) for c in t.target]
        if len(names) == 1:
            targets = {names[0]: total}
        else:
            if target_dims is None or any(n not in target_dims for n in names):
                raise ValueError(
                    f"topology {t.name}: the feature size of each target {names} is needed to "
                    f"split its translation, found {dict(target_dims or {})}"
                )
            targets = {n: int(target_dims[n]) for n in names}
            if sum(targets.values()) != total:
                raise ValueError(
                    f"topology {t.name}: target sizes {targets} add up to "
                    f"{sum(targets.values())} but the translator outputs {total} features"
                )
    return ServingSpec(t.name, int(max_seq_len), inputs, targets, jit_compile)


def _dynamic_rank(x):
    # Not tf.rank / tf.size(tf.shape(x)): both fold to the placeholder's *declared* rank
    # (in Python or in Grappler), while TF-Serving feeds whatever the request holds.
    return tf.reduce_sum(tf.cast(tf.greater_equal(tf.shape(x), 0), tf.int32))


def checked_inputs(spec: ServingSpec, tensors: Sequence) -> tuple[dict, Any]:
    """Validate signature inputs in the graph; pad their steps to ``max_seq_len``.

    Args:
        spec: what is served.
        tensors: one tensor per :attr:`ServingSpec.input_names`, in that order.

    Returns:
        (name -> tensor of static shape ``(batch, max_seq_len[, dim])``, steps of the request).
    """
    byname = dict(zip(spec.input_names, tensors, strict=True))
    length = spec.max_seq_len

    def require(condition, name: str, found: str, *values):
        message = f"input `{name}` must be {spec.expected(name)}; found {found}"
        return tf.debugging.Assert(condition, [message, *values])

    # Names are quoted with backticks: Assert C-escapes quotes in its message. Shape
    # checks run under control dependencies on the rank checks, so a wrong rank is
    # reported before a shape index could go out of bounds.
    ranks = []
    for name in spec.input_names:
        rank = _dynamic_rank(byname[name])
        ranks.append(require(tf.equal(rank, 2 if name == M.MASK else 3), name, "rank", rank))
    with tf.control_dependencies(ranks):
        mask_shape = tf.shape(byname[M.MASK])
        steps = mask_shape[1]
        checks = [require(tf.less_equal(steps, length), M.MASK, "steps", steps)]
        for name, dim in spec.inputs.items():
            shape = tf.shape(byname[name])
            checks.append(require(tf.equal(shape[2], dim), name, "last dim", shape[2]))
            checks.append(
                tf.debugging.Assert(
                    tf.reduce_all(tf.equal(shape[:2], mask_shape)),
                    [
                        f"inputs `{name}` and `mask` must have the same batch and steps; "
                        "found (batch, steps)",
                        shape[:2],
                        "and",
                        mask_shape,
                    ],
                )
            )
        checks.extend(_value_checks(spec, byname))
    with tf.control_dependencies(checks):
        pad = length - steps
        out = {M.MASK: tf.ensure_shape(tf.pad(byname[M.MASK], [[0, 0], [0, pad]]), (None, length))}
        for name, dim in spec.inputs.items():
            padded = tf.pad(byname[name], [[0, 0], [0, pad], [0, 0]])
            out[name] = tf.ensure_shape(padded, (None, length, dim))
    return out, steps


def _value_checks(spec: ServingSpec, byname: Mapping[str, Any]) -> list:
    """Assertions on the values (run after the shape checks they depend on).

    A NaN or inf anywhere turns into ``sentiment=nan`` and a confident-looking label, and a
    row with no real step (or a mask that is not right-padded 0/1) into a constant or
    meaningless prediction, so both are errors naming the input.
    """
    checks = []
    for name in spec.input_names:
        finite = tf.math.is_finite(byname[name])
        bad = tf.reduce_sum(tf.cast(tf.logical_not(finite), tf.int32))
        checks.append(
            tf.debugging.Assert(
                tf.equal(bad, 0),
                [f"input `{name}` must be finite; found non-finite values (NaN or inf):", bad],
            )
        )
    mask = byname[M.MASK]
    binary = tf.logical_or(tf.equal(mask, 0.0), tf.equal(mask, 1.0))
    with tf.control_dependencies(checks):
        checks.append(
            tf.debugging.Assert(
                tf.reduce_all(binary),
                [
                    "input `mask` must hold only 0 and 1; found other values:",
                    tf.boolean_mask(mask, tf.logical_not(binary)),
                ],
                summarize=5,
            )
        )
        real = tf.reduce_sum(mask, axis=1)
        empty = tf.reshape(tf.where(tf.equal(real, 0.0)), [-1])
        checks.append(
            tf.debugging.Assert(
                tf.logical_and(tf.greater(tf.shape(mask)[1], 0), tf.equal(tf.size(empty), 0)),
                [
                    "input `mask` must have at least one real step (a 1) in every example; "
                    "found none in examples (steps",
                    tf.shape(mask)[1],
                    ")",
                    empty,
                ],
                summarize=5,
            )
        )
        # The models read right-padded sequences (real steps first): a 0 followed by a 1
        # would feed padding through the LSTM.
        gaps = tf.reshape(tf.where(tf.reduce_any(mask[:, 1:] > mask[:, :-1], axis=1)), [-1])
        checks.append(
            tf.debugging.Assert(
                tf.equal(tf.size(gaps), 0),
                [
                    "input `mask` must be right-padded (1s, then 0s) in every example; "
                    "found a 1 after a 0 in examples",
                    gaps,
                ],
                summarize=5,
            )
        )
    return checks


def next_power_of_two(n):
    """The smallest power of two >= ``n`` (int32 tensor >= 1)."""
    v = tf.maximum(tf.cast(n, tf.int32), 1) - 1
    for shift in (1, 2, 4, 8, 16):
        v = tf.bitwise.bitwise_or(v, tf.bitwise.right_shift(v, shift))
    return v + 1


def sentiment_outputs(sentiment, attention=None) -> dict[str, Any]:
    """The ``serving_default`` outputs derived from the scores ``sentiment`` (batch,).

    ``attention`` (batch, steps), when given, is passed through as the ``attention`` output.
    """
    sentiment = tf.reshape(tf.cast(sentiment, tf.float32), [-1])
    non_negative = tf.greater_equal(sentiment, 0.0)
    extra = {} if attention is None else {ATTENTION: tf.cast(attention, tf.float32)}
    return {
        "sentiment": sentiment,
        "polarity": tf.cast(non_negative, tf.int32),
        "polarity_label": tf.where(
            non_negative, tf.constant(POLARITY_LABELS[1]), tf.constant(POLARITY_LABELS[0])
        ),
        # tf.round rounds half to even, like numpy (tfs2s.training.metrics.to_class7).
        "sentiment_class": tf.cast(
            tf.round(tf.clip_by_value(sentiment, M.SENTIMENT_MIN, M.SENTIMENT_MAX)), tf.int32
        ),
        **extra,
    }


class _Hidden:
    """Holds a value out of sight of ``tf.Module``'s attribute tracking."""

    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value


class ServingModule(tf.Module):
    """The exported object: tracked Keras models plus the signature functions.

    Args:
        spec: what is served (see :func:`spec_from_models`).
        sentiment_model: Keras model ``{modalities..., "mask"} -> {"sentiment", "attention"}``.
        translator: Keras model ``{sources..., "mask"} -> {"translation"}``; required
            when ``spec.targets`` is not empty.

    With ``spec.jit_compile`` the model calls are XLA-compiled; the checks and padding
    stay outside (XLA drops assertions). XLA compiles one program per input shape:
    steps are already padded to ``max_seq_len`` and the batch is padded to the next
    power of two, so a server compiles a few programs (warmed up at load) instead of
    one per batch size it meets.

    Attributes:
        metadata: a ``tf.function`` returning :meth:`ServingSpec.to_json` (kept in the
            SavedModel; not a signature, since TF-Serving signatures need batched outputs).
    """

    def __init__(self, spec: ServingSpec, sentiment_model, translator=None):
        super().__init__(name="tfs2s_serving")
        if spec.targets and translator is None:
            raise ValueError(f"topology {spec.topology} serves translate but has no translator")
        self.spec = spec
        self._keep_models(sentiment_model, translator if spec.targets else None)
        specs = [
            tf.TensorSpec((None, None, dim), tf.float32, name=name)
            for name, dim in spec.inputs.items()
        ] + [tf.TensorSpec((None, None), tf.float32, name=M.MASK)]

        # Only the signatures (concrete functions, traced once here) and `metadata` are
        # saved. tf.saved_model.save would save every tf.function attribute of a module
        # as well, tracing it again (its cache key changes inside the save): for the
        # unrolled LSTMs that doubled the export time. So the signature tf.functions and
        # the model calls (XLA-compiled with jit_compile; nested in the signature graphs)
        # are kept where the module does not look.
        score = tf.function(self._call_sentiment, jit_compile=spec.jit_compile)
        functions = {SERVING_DEFAULT: tf.function(self._serve, input_signature=specs)}
        decode = None
        if self.translator is not None:
            decode = tf.function(self._call_translator, jit_compile=spec.jit_compile)
            functions[TRANSLATE] = tf.function(self._translate, input_signature=specs)
        self._keep(_score=score, _decode=decode, _functions=functions)
        metadata = spec.to_json()
        self.metadata = tf.function(lambda: tf.constant(metadata), input_signature=[])
        # Save exactly the tf.Variables the traced graphs capture (as keras.export's
        # ExportArchive does). Tracking the Keras models instead saves their variables
        # under handles the graphs do not read: tf.saved_model.load copes, but the
        # model server's session loader then finds uninitialised variables.
        captured = {}
        for fn in self.signature_functions().values():
            captured.update((id(v), v) for v in fn.variables)
        self._captured_variables = list(captured.values())

    @compat.no_automatic_dependency_tracking
    def _keep_models(self, sentiment_model, translator) -> None:
        self.sentiment_model = sentiment_model
        self.translator = translator

    @compat.no_automatic_dependency_tracking
    def _keep(self, **attributes) -> None:
        for name, value in attributes.items():
            # a plain holder: the module's save scans its attributes for tf.functions
            setattr(self, name, _Hidden(value))

    def signature_functions(self) -> dict[str, Any]:
        """Signature name -> concrete function, for ``tf.saved_model.save(signatures=...)``."""
        return {name: fn.get_concrete_function() for name, fn in self._functions.value.items()}

    def run(self, signature: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
        """Call a signature in process with ``{input name: array}`` (as a client would)."""
        functions = self._functions.value
        if signature not in functions:
            raise ValueError(f"no signature {signature!r}; expected one of {sorted(functions)}")
        return functions[signature](
            *[tf.convert_to_tensor(inputs[n], tf.float32) for n in self.spec.input_names]
        )

    def _call_sentiment(self, inputs):
        out = self.sentiment_model(inputs, training=False)
        return {"sentiment": out["sentiment"], ATTENTION: out[ATTENTION]}

    def _call_translator(self, inputs):
        return self.translator(inputs, training=False)[TRANSLATION]

    def _batched(self, model_fn, inputs):
        """``model_fn(inputs)``, on a batch padded to its bucket when XLA-compiled."""
        if not self.spec.jit_compile:
            return model_fn(inputs)
        batch = tf.shape(inputs[M.MASK])[0]
        pad = next_power_of_two(batch) - batch
        padded = {}
        for name, x in inputs.items():
            # padded rows are full-length silent segments: no all-masked row, no NaN
            fill = 1.0 if name == M.MASK else 0.0
            padded[name] = tf.pad(
                x, [[0, pad]] + [[0, 0]] * (x.shape.rank - 1), constant_values=fill
            )
        return tf.nest.map_structure(lambda t: t[:batch], model_fn(padded))

    def _serve(self, *tensors):
        inputs, steps = checked_inputs(self.spec, tensors)
        out = self._batched(self._score.value, inputs)
        return sentiment_outputs(out["sentiment"], out[ATTENTION][:, :steps])

    def _translate(self, *tensors):
        inputs, steps = checked_inputs(self.spec, tensors)
        translation = self._batched(self._decode.value, inputs)[:, :steps, :]
        out = {TRANSLATION: translation}
        if len(self.spec.targets) > 1:
            start = 0
            for name, dim in self.spec.targets.items():
                out[translation_output(name)] = translation[:, :, start : start + dim]
                start += dim
        return out
