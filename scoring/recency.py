"""How much each training lead counts when buyers' behaviour drifts: recent leads more.

A lead's weight halves for each `half_life` share of the leads that came after it, in time
order (`created_at`, else the source's order): with 0.05 the newest lead counts 1, one 5% of the
leads older ½, one 10% older ¼. Counting leads rather than days keeps a slow month from
stretching the memory and works for files that carry no dates. The weights average 1, so the
regularisation means what it means without them.
"""

from __future__ import annotations

import numpy as np


def recency_weights(order: np.ndarray, half_life: float | None) -> np.ndarray | None:
    """A weight per lead (mean 1) from its time-ordering key; None: every lead alike."""
    if half_life is None or len(order) == 0:
        return None
    rank = np.argsort(np.argsort(order, kind="stable"), kind="stable")
    newer_share = (len(order) - 1 - rank) / len(order)
    weight = np.exp2(-newer_share / half_life)
    return weight * (len(weight) / weight.sum())
