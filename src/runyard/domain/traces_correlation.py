"""How strongly two trace filters co-occur: normalised pointwise mutual information (NPMI).

NPMI is ``log(P(a,b) / (P(a) P(b))) / -log P(a,b)``, in [-1, 1]: -1 when the two never match the
same trace, 0 when they are independent, 1 when they always match together. It is undefined (NaN)
when either filter matches nothing. The smoothed value adds a Jeffreys prior (0.5) to each cell of
the 2×2 table, which keeps small samples from swinging to the extremes. The rules are MLflow's, so
its UI shows the same numbers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

JEFFREYS_PRIOR = 0.5


@dataclass(frozen=True, slots=True)
class Correlation:
    npmi: float
    npmi_smoothed: float
    filter1_count: int
    filter2_count: int
    joint_count: int
    total_count: int


def _npmi(both: float, only1: float, only2: float, neither: float, smoothing: float) -> float:
    n11, n10, n01, n00 = (count + smoothing for count in (both, only1, only2, neither))
    total = n11 + n10 + n01 + n00
    first, second = n11 + n10, n11 + n01
    if first <= 0 or second <= 0 or n11 <= 0:
        return math.nan
    if only1 == 0 and only2 == 0 and neither == 0:
        return 1.0
    pmi = math.log(n11) + math.log(total) - math.log(first) - math.log(second)
    return max(-1.0, min(1.0, pmi / -(math.log(n11) - math.log(total))))


def correlation(joint: int, filter1: int, filter2: int, total: int) -> Correlation:
    """The NPMI of two filters from how many traces match each, both, and in all."""
    npmi = smoothed = math.nan
    cells = (joint, filter1 - joint, filter2 - joint, total - filter1 - filter2 + joint)
    if total > 0 and filter1 > 0 and filter2 > 0 and min(cells) >= 0:
        npmi = -1.0 if joint == 0 else _npmi(*cells, smoothing=0)
        smoothed = _npmi(*cells, smoothing=JEFFREYS_PRIOR)
    return Correlation(npmi, smoothed, filter1, filter2, joint, total)
