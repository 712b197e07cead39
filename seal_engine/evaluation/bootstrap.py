"""Bootstrap confidence intervals (percentile method), numpy only.

Hand-written rather than scipy.stats.bootstrap: scipy is not a dependency of
the app, and we need a *cluster* bootstrap. Samples of one character are not
independent (they share one learned concept), so when `groups` is given the
characters are resampled with replacement and all of a drawn character's
samples come along; that widens the interval honestly when there are few
characters.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Callable, Optional, Sequence

import numpy as np

DEFAULT_RESAMPLES = 2000
DEFAULT_CONFIDENCE = 0.95


@dataclass(frozen=True)
class Interval:
    estimate: Optional[float]  # the statistic on the data as observed (None when no values)
    low: Optional[float]
    high: Optional[float]
    n: int  # number of values used
    confidence: float = DEFAULT_CONFIDENCE

    def to_dict(self) -> dict:
        return asdict(self)


def bootstrap_ci(
    values: Sequence[Optional[float]],
    *,
    groups: Optional[Sequence[str]] = None,
    statistic: Callable[[np.ndarray], float] = np.mean,
    n_resamples: int = DEFAULT_RESAMPLES,
    confidence: float = DEFAULT_CONFIDENCE,
    seed: int = 0,
) -> Interval:
    """Percentile bootstrap CI of `statistic` over `values` (None and NaN dropped; bools count as 0/1).

    Deterministic for a given seed. With one value (or one group) the interval collapses to the estimate.
    """
    if not 0 < confidence < 1:
        raise ValueError("confidence must be between 0 and 1")
    keep = [i for i, v in enumerate(values) if v is not None and not (isinstance(v, float) and np.isnan(v))]
    data = np.asarray([float(values[i]) for i in keep], dtype=np.float64)
    if data.size == 0:
        return Interval(None, None, None, 0, confidence)
    labels = [groups[i] for i in keep] if groups is not None else None
    return bootstrap_indices(int(data.size), lambda idx: float(statistic(data[idx])), groups=labels,
                             n_resamples=n_resamples, confidence=confidence, seed=seed)


def bootstrap_indices(
    n: int,
    statistic: Callable[[np.ndarray], Optional[float]],
    *,
    groups: Optional[Sequence[str]] = None,
    n_resamples: int = DEFAULT_RESAMPLES,
    confidence: float = DEFAULT_CONFIDENCE,
    seed: int = 0,
) -> Interval:
    """The general form: `statistic(indices)` computes the statistic on a resample of items 0..n-1.

    For statistics that are not a mean of one value per item (e.g. the mean over
    attributes of per-attribute accuracy). A resample on which the statistic is
    undefined (returns None) is skipped.
    """
    if n == 0:
        return Interval(None, None, None, 0, confidence)
    everything = np.arange(n)
    estimate = statistic(everything)
    if estimate is None:
        return Interval(None, None, None, n, confidence)
    rng = np.random.default_rng(seed)
    if groups is None:
        clusters = [np.asarray([i]) for i in range(n)]
    else:
        members: dict[str, list[int]] = {}
        for pos, g in enumerate(groups):
            members.setdefault(g, []).append(pos)
        clusters = [np.asarray(p) for p in members.values()]
    stats = []
    for _ in range(n_resamples):
        drawn = rng.integers(0, len(clusters), size=len(clusters))
        value = statistic(np.concatenate([clusters[d] for d in drawn]))
        if value is not None:
            stats.append(value)
    if not stats:
        return Interval(float(estimate), None, None, n, confidence)
    alpha = (1.0 - confidence) / 2.0
    low, high = np.quantile(np.asarray(stats), [alpha, 1.0 - alpha])
    return Interval(float(estimate), float(low), float(high), n, confidence)
