"""The one logistic regression learn fits (scikit-learn, imported only when fitting)."""

from __future__ import annotations

import numpy as np


def fit_logistic(
    matrix: np.ndarray,
    converted: np.ndarray,
    regularisation: float,
    weight: np.ndarray | None = None,
) -> tuple[float, np.ndarray]:
    """(intercept, weight per feature) of an L2-regularised logistic regression.

    Features are standardised for the fit (so one regularisation suits counts and flags alike)
    and the weights converted back to one unit of each feature. `weight`: how much each lead
    counts (default: all alike), e.g. recent leads more (`scoring.recency`).
    """
    from sklearn.linear_model import LogisticRegression
    from threadpoolctl import threadpool_limits

    spread = matrix.std(axis=0)
    varies = spread > 0
    centre = matrix[:, varies].mean(axis=0)
    scaled = (matrix[:, varies] - centre) / spread[varies]
    with threadpool_limits(1):  # one thread is faster than contended BLAS on small problems
        regression = LogisticRegression(C=regularisation, max_iter=1000)
        fitted = regression.fit(scaled, converted, sample_weight=weight)
    weights = np.zeros(matrix.shape[1])
    weights[varies] = fitted.coef_[0] / spread[varies]
    intercept = float(fitted.intercept_[0] - (weights[varies] * centre).sum())
    return intercept, weights

