import math

import numpy as np
import pytest

from tfs2s.training.metrics import METRIC_KEYS, sentiment_metrics, to_binary, to_class7


def test_binary_split_counts_zero_as_non_negative():
    np.testing.assert_array_equal(to_binary([-0.2, 0.0, 0.4]), [0, 1, 1])


def test_class7_rounds_and_clips():
    np.testing.assert_array_equal(
        to_class7([-3.4, -2.6, -0.4, 0.6, 2.4, 3.9]), [-3, -3, 0, 1, 2, 3]
    )


def test_hand_computed_case_with_zero_labels():
    y_true = np.array([-2.0, -1.0, 0.0, 0.0, 1.0, 2.0])
    y_pred = np.array([-1.0, 0.5, -0.5, 0.2, 1.2, 2.6])
    m = sentiment_metrics(y_true, y_pred)
    assert set(m) == set(METRIC_KEYS)
    # binary true: [0,0,1,1,1,1], pred: [0,1,0,1,1,1] -> 4/6 correct
    assert m["acc2"] == pytest.approx(4 / 6)
    # zero labels dropped: true [-2,-1,1,2] vs pred [-1,.5,1.2,2.6] -> signs 3/4 right
    assert m["acc2_nonzero"] == pytest.approx(3 / 4)
    # class 0 (negative): tp=1, fp=1 (pred neg at true 0) -> p=1/2, r=1/2, support 2
    # class 1: tp=3, fp=1, fn=1 -> p=3/4, r=3/4, support 4; weighted -> 2/6*1/2 + 4/6*3/4
    expected = 2 / 6 * 0.5 + 4 / 6 * 0.75
    assert m["prec2"] == pytest.approx(expected)
    assert m["rec2"] == pytest.approx(expected)
    assert m["f1_2"] == pytest.approx(expected)
    # 7-class: true [-2,-1,0,0,1,2], pred [-1,0,0,0,1,3] (round half to even: 0.5->0, -0.5->0)
    assert m["acc7"] == pytest.approx(3 / 6)
    assert m["mae"] == pytest.approx(np.mean([1.0, 1.5, 0.5, 0.2, 0.2, 0.6]))
    assert m["corr"] == pytest.approx(np.corrcoef(y_true, y_pred)[0, 1])


def test_weighted_prf_is_called_true_then_pred():
    # Asymmetric case: swapping arguments would change precision and recall.
    y_true = np.array([1.0, 1.0, 1.0, -1.0])
    y_pred = np.array([1.0, -1.0, -1.0, -1.0])
    m = sentiment_metrics(y_true, y_pred)
    # class neg: tp=1 fp=2 -> p=1/3 r=1 ; class pos: tp=1 fp=0 -> p=1 r=1/3 ; supports 1 and 3
    assert m["prec2"] == pytest.approx(0.25 * (1 / 3) + 0.75 * 1.0)
    assert m["rec2"] == pytest.approx(0.25 * 1.0 + 0.75 * (1 / 3))


def test_degenerate_inputs():
    m = sentiment_metrics(np.zeros(3), np.array([0.1, 0.2, 0.3]))
    assert math.isnan(m["acc2_nonzero"]) and math.isnan(m["corr"])
    with pytest.raises(ValueError, match="empty"):
        sentiment_metrics(np.zeros(0), np.zeros(0))
    with pytest.raises(ValueError, match="non-finite"):
        sentiment_metrics(np.zeros(2), np.array([0.0, np.nan]))
