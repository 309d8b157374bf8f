"""Helpers for right-padded sequences with a float validity mask.

Every sequence tensor in tfs2s is right padded: real words start at step 0 and the
mask (float32 (batch, steps), 1.0 on real words) marks them. These helpers keep padded
steps out of softmaxes and let callers zero them.
"""

from __future__ import annotations

from keras import ops

#: Score given to padded steps before a softmax; exp() of it underflows to exactly 0.
_PADDED_SCORE = -1e9


def masked_softmax(scores, mask, axis: int = -1):
    """Softmax over ``axis`` that gives padded steps exactly zero weight.

    Args:
        scores: float (..., steps) unnormalised scores.
        mask: (..., steps) validity mask, broadcastable to ``scores``; nonzero on real steps.
        axis: axis of the steps.

    Returns:
        float (..., steps) weights summing to 1 over the real steps, 0 on padded steps;
        all zero for a row with no real step.
    """
    valid = ops.cast(mask, "bool")
    weights = ops.softmax(ops.where(valid, scores, _PADDED_SCORE), axis=axis)
    return weights * ops.cast(valid, weights.dtype)


def zero_padded_steps(sequence, mask):
    """Zero the padded steps of a sequence.

    Args:
        sequence: float (batch, steps, dim).
        mask: (batch, steps), nonzero on real steps.

    Returns:
        float (batch, steps, dim), equal to ``sequence`` on real steps and 0 elsewhere.
    """
    return sequence * ops.expand_dims(ops.cast(mask, sequence.dtype), -1)


def shift_right(sequence):
    """Delay a sequence by one step, with zeros at step 0 (teacher-forcing inputs).

    Args:
        sequence: float (batch, steps, dim).

    Returns:
        float (batch, steps, dim) whose step ``t`` is step ``t - 1`` of the input.
    """
    return ops.pad(sequence, [[0, 0], [1, 0], [0, 0]])[:, :-1, :]
