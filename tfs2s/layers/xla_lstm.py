"""An LSTM whose recurrence runs as one XLA-compiled loop, forward and backward."""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor

import keras
import tensorflow as tf

#: Batches are padded up to a multiple of this many rows before the compiled loops, so a
#: run's last partial batch (and a valid split's) reuses the full batch's compiled code
#: instead of compiling its own (each compile costs 0.2-0.4 s here).
BATCH_BUCKET = 32

_SEQ = tf.TensorSpec([None, None, None], tf.float32)
_MAT = tf.TensorSpec([None, None], tf.float32)
_VALID = tf.TensorSpec([None, None], tf.bool)
_SCALAR = tf.TensorSpec([], tf.float32)


def _gates(z):
    zi, zf, zg, zo = tf.split(z, 4, axis=-1)
    return tf.sigmoid(zi), tf.sigmoid(zf), tf.tanh(zg), tf.sigmoid(zo)


def _run_steps(body, first, second, steps):
    """``body(k, first, second, carried, array)`` for k = 0 .. steps - 1, from ``carried``
    zeros like ``first`` and an empty array; returns ``first``, ``second`` and the array
    stacked (steps, ...)."""
    _, first, second, _, array = tf.while_loop(
        lambda k, *_: k < steps,
        body,
        (0, first, second, tf.zeros_like(first), tf.TensorArray(first.dtype, size=steps)),
        maximum_iterations=steps,
    )
    return first, second, array.stack()


def _time_major(x):
    return tf.transpose(x, [1, 0] + list(range(2, x.shape.rank)))


# One signature with unknown dimensions: every LSTM of a process calls the same function,
# so XLA compiles once per (steps, batch, units) and every LSTM of that shape shares it.
# Inputs and outputs are batch major; the loops run time major inside the compiled code.
@tf.function(
    jit_compile=True,
    autograph=False,
    input_signature=[_SEQ, _VALID, _MAT, _MAT, _MAT, _SCALAR],
)
def _forward(projected, valid, recurrent_kernel, h0, c0, carry):
    """The recurrence over ``projected`` (batch, steps, 4 * units).

    A masked step keeps the states; its output is the previous output times ``carry``
    (1.0: Keras's carried output, 0.0: ``zero_output_for_mask``). Returns the outputs
    (batch, steps, units), the final states and what the backward pass needs (time major).
    """
    projected = _time_major(projected)
    valid = _time_major(valid)[:, :, None]
    steps = tf.shape(projected)[0]

    def body(t, h, c, out, saved):
        i, f, g, o = _gates(projected[t] + tf.matmul(h, recurrent_kernel))
        c_new = f * c + i * g
        tc = tf.tanh(c_new)
        h_new = o * tc
        m = valid[t]
        out = tf.where(m, h_new, out * carry)
        # One write a step (gates, previous states, tanh(c), output): each array written
        # in the loop costs a separate kernel per step.
        saved = saved.write(t, tf.concat([i, f, g, o, c, tc, h, out], -1))
        return t + 1, tf.where(m, h_new, h), tf.where(m, c_new, c), out, saved

    h, c, saved = _run_steps(body, h0, c0, steps)
    units = tf.shape(h0)[-1]
    outs = _time_major(saved[:, :, 7 * units :])
    return outs, h, c, saved


@tf.function(
    jit_compile=True,
    autograph=False,
    input_signature=[_SEQ, _MAT, _MAT, _VALID, _MAT, _SEQ, _SCALAR],
)
def _backward(d_outs, d_h, d_c, valid, recurrent_kernel, saved, carry):
    """Gradients of :func:`_forward` with respect to ``projected`` (batch major),
    ``recurrent_kernel``, ``h0`` and ``c0``."""
    d_outs = _time_major(d_outs)
    valid = _time_major(valid)[:, :, None]
    steps = tf.shape(d_outs)[0]

    def body(k, dh, dc, d_carried, d_projected):
        t = steps - 1 - k
        m = valid[t]
        zero = tf.zeros_like(dh)
        d_out = d_outs[t] + d_carried * carry
        dh_new = tf.where(m, dh + d_out, zero)
        i, f, g, o, c_prev, tc, _, _ = tf.split(saved[t], 8, axis=-1)
        dc_new = tf.where(m, dc, zero) + dh_new * o * (1.0 - tc * tc)
        dz = tf.concat(
            [
                dc_new * g * i * (1.0 - i),
                dc_new * c_prev * f * (1.0 - f),
                dc_new * i * (1.0 - g * g),
                dh_new * tc * o * (1.0 - o),
            ],
            -1,
        )
        return (
            k + 1,
            tf.matmul(dz, recurrent_kernel, transpose_b=True) + tf.where(m, zero, dh),
            dc_new * f + tf.where(m, zero, dc),
            tf.where(m, zero, d_out),
            d_projected.write(t, dz),
        )

    dh0, dc0, d_projected = _run_steps(body, d_h, d_c, steps)
    units = tf.shape(d_h)[-1]
    h_prev = saved[:, :, 6 * units : 7 * units]
    d_recurrent = tf.matmul(
        tf.reshape(h_prev, [-1, units]), tf.reshape(d_projected, [-1, 4 * units]), transpose_a=True
    )
    return _time_major(d_projected), d_recurrent, dh0, dc0


def lstm_recurrence(projected, valid, recurrent_kernel, h0, c0, zero_output_for_mask):
    """Run the LSTM recurrence as one compiled loop, with a hand-written gradient.

    Args:
        projected: float32 (batch, steps, 4 * units) ``x @ kernel + bias``.
        valid: bool (batch, steps), True on real steps.
        recurrent_kernel: float32 (units, 4 * units).
        h0: float32 (batch, units) initial hidden state.
        c0: float32 (batch, units) initial cell state.
        zero_output_for_mask: a masked step outputs zeros instead of the previous output.

    Returns:
        ``(outputs, h, c)``: float32 (batch, steps, units) and the final states.
    """
    carry = tf.constant(0.0 if zero_output_for_mask else 1.0)

    @tf.custom_gradient
    def run(projected, recurrent_kernel, h0, c0):
        # The tape must not record the compiled call itself: its own gradient would pass
        # TensorLists out of XLA, which TensorFlow refuses. The gradient is grad() below.
        outs, h, c, saved = _forward(
            *map(tf.stop_gradient, (projected, valid, recurrent_kernel, h0, c0)), carry
        )

        def grad(d_outs, d_h, d_c):
            d_outs = tf.zeros_like(outs) if d_outs is None else d_outs
            d_h = tf.zeros_like(h) if d_h is None else d_h
            d_c = tf.zeros_like(c) if d_c is None else d_c
            return _backward(d_outs, d_h, d_c, valid, recurrent_kernel, saved, carry)

        return (outs, h, c), grad

    return run(projected, recurrent_kernel, h0, c0)


def _padded(batch: int) -> int:
    return batch + (-batch) % BATCH_BUCKET


@tf.function(autograph=False, reduce_retracing=True)
def _compile_graph(projected, valid, recurrent_kernel, h0, c0, carry, backward):
    outs, h, c, saved = _forward(projected, valid, recurrent_kernel, h0, c0, carry)
    if not backward:
        return outs
    return _backward(outs, h, c, valid, recurrent_kernel, saved, carry)[0]


_compiling = threading.Lock()
_compiled: set[tuple[int, int, int, bool]] = set()


@functools.cache
def _compiler() -> ThreadPoolExecutor:
    """The one background thread that compiles, made when first needed."""
    return ThreadPoolExecutor(1, thread_name_prefix="tfs2s-xla-lstm")


def _compile(steps: int, batch: int, units: int, backward: bool) -> None:
    zeros = tf.zeros([batch, units])
    _compile_graph(
        tf.zeros([batch, steps, 4 * units]),
        tf.ones([batch, steps], tf.bool),
        tf.zeros([units, 4 * units]),
        zeros,
        zeros,
        tf.constant(1.0),
        backward,
    )


def precompile(steps: int, batch: int, units: int, backward: bool) -> Future | None:
    """Start compiling the loops of an LSTM of this shape on a background thread.

    XLA compiles a loop the first time a step runs it, after the whole step graph has
    been built: 0.2-0.4 s per shape, one shape after another. Started when an LSTM is
    traced, the compiles run on the other core while Python builds the rest of the graph,
    and the step finds them done (a compile already running is waited for, never run
    twice). Each shape is started once per process.

    Returns:
        The compile's future, or None when this shape was started before.
    """
    key = (steps, _padded(batch), units, backward)
    with _compiling:
        if key in _compiled:
            return None
        _compiled.add(key)
        return _compiler().submit(_compile, *key)


_evaluation_batches: list[tuple[int, ...]] = [()]


@contextlib.contextmanager
def evaluation_batches(batches: Iterable[int]):
    """Within this context, an LSTM traced for training also starts compiling its forward
    loop for these batch sizes (those of the evaluations that follow each epoch).

    An evaluation step is traced after the first epoch; its compiles would start only
    then, and wait on each other. Started with the training step's, they are done when it
    comes.
    """
    _evaluation_batches.append(tuple(batches))
    try:
        yield
    finally:
        _evaluation_batches.pop()


@keras.saving.register_keras_serializable(package="tfs2s")
class XlaLSTM(keras.layers.LSTM):
    """``keras.layers.LSTM`` whose loop (``unroll=False``) is one XLA-compiled while loop.

    The same weights, arguments and function as Keras's LSTM (masking, ``go_backwards``,
    ``zero_output_for_mask``, initial states, input ``dropout``), computed by two compiled
    loops, forward and a hand-written backward, that every LSTM of a process shares per
    (steps, batch, units). Keras's loop runs each step's dozen ops through TensorFlow's
    executor, in the forward pass and again in its gradient; here a step costs one
    compiled iteration. The input projection ``x @ kernel + bias`` of all steps runs
    outside, as one matmul.

    Falls back to Keras's own loop where it would differ: unrolled, a training call with
    ``recurrent_dropout``, a stateful layer, a non-float32 dtype, other activations or
    no bias.
    """

    def _runs_compiled(self, training) -> bool:
        cell = self.cell
        return not (
            self.unroll
            or self.stateful
            or (training and cell.recurrent_dropout)
            or self.compute_dtype != "float32"
            or not cell.use_bias
            or cell.activation is not keras.activations.tanh
            or cell.recurrent_activation is not keras.activations.sigmoid
        )

    def inner_loop(self, sequences, initial_state, mask, training=False):
        if isinstance(mask, (list, tuple)):
            mask = mask[0]
        if not self._runs_compiled(training):
            return super().inner_loop(sequences, initial_state, mask, training=training)
        cell = self.cell
        batch, steps = sequences.shape[:2]
        if batch is not None and steps is not None and not tf.executing_eagerly():
            precompile(steps, batch, cell.units, backward=bool(training))
            for size in _evaluation_batches[-1] if training else ():
                precompile(steps, size, cell.units, backward=False)
        if training and 0.0 < cell.dropout < 1.0:
            # Keras's cell applies one input dropout mask at every step; so does this.
            sequences = sequences * tf.expand_dims(cell.get_dropout_mask(sequences[:, 0]), 1)
        # Static sizes where known: each dynamic size, pad or slice adds graph ops that
        # every trace pays for (a third of an evaluation step's ops were these).
        dynamic = tf.shape(sequences) if batch is None or steps is None else None
        rows = dynamic[0] if batch is None else batch
        length = dynamic[1] if steps is None else steps
        # One (batch * steps, dim) matmul: einsum or a batched matmul cost 3-5 times more.
        flat = tf.reshape(sequences, [-1, cell.kernel.shape[0]])
        projected = tf.reshape(
            tf.matmul(flat, cell.kernel) + cell.bias, [rows, length, 4 * cell.units]
        )
        valid = tf.ones([rows, length], tf.bool) if mask is None else tf.cast(mask, tf.bool)
        if self.go_backwards:
            projected = tf.reverse(projected, [1])
            valid = tf.reverse(valid, [1])
        h0, c0 = initial_state
        pad = -rows % BATCH_BUCKET  # a Python int when the batch is static
        padded = batch is None or pad > 0
        if padded:
            projected = tf.pad(projected, [[0, pad], [0, 0], [0, 0]])
            valid = tf.pad(valid, [[0, pad], [0, 0]])
            h0, c0 = (tf.pad(s, [[0, pad], [0, 0]]) for s in (h0, c0))
        outs, h, c = lstm_recurrence(
            projected,
            valid,
            tf.convert_to_tensor(cell.recurrent_kernel),
            h0,
            c0,
            bool(self.zero_output_for_mask),
        )
        if padded:
            outs, h, c = outs[:rows], h[:rows], c[:rows]
        # The compiled call's signature has unknown sizes: give back the static ones (a
        # LayerNormalization after the LSTM needs its feature size).
        outs.set_shape([batch, steps, cell.units])
        h.set_shape([batch, cell.units])
        c.set_shape([batch, cell.units])
        # Keras's loop returns the outputs in the order it ran them (reversed backwards).
        return outs[:, -1], outs, [h, c]
