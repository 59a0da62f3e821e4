"""`histogram_quantile` over classic Prometheus histogram buckets.

The rules follow `bucketQuantile` in Prometheus's promql/quantile.go:

- Buckets are cumulative counts keyed by their upper bound (`le`), in any
  order. Buckets with the same bound are added together.
- The highest bucket must be `+Inf`, and at least two buckets must remain.
- Counts that fall from one bucket to the next are raised to the count before
  them. Differences below a relative 1e-12 count as float noise and are
  flattened first.
- The quantile is interpolated linearly within the bucket that contains its
  rank. The lowest bucket starts at 0 when its upper bound is above 0; when
  it is at or below 0, that bound itself is returned.
- A quantile that lands in the `+Inf` bucket returns the highest finite bound.
- `q < 0` gives -inf and `q > 1` gives +inf.

Where Prometheus returns NaN (no observations, a missing `+Inf` bucket, fewer
than two buckets, NaN `q`), these functions return None, which haven-top shows
as "no data".
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Iterable, Sequence

Bucket = tuple[float, float]
"""(upper bound, cumulative count)."""

PRECISION_TOLERANCE = 1e-12


def parse_le(text: str) -> float | None:
    """Return the upper bound of an `le` label value, or None when it is invalid."""
    try:
        bound = float(text)
    except ValueError:
        return None
    if math.isnan(bound):
        return None
    return bound


def histogram_quantile(q: float, buckets: Iterable[Bucket]) -> float | None:
    """Return the `q`-quantile of cumulative `buckets`, or None when there is none."""
    return histogram_quantiles((q,), buckets)[0]


def histogram_quantiles(
    qs: Sequence[float], buckets: Iterable[Bucket]
) -> tuple[float | None, ...]:
    """Return one quantile per entry of `qs`, preparing the buckets only once."""
    prepared = prepare_buckets(buckets)
    return tuple(quantile_of_prepared(q, prepared) for q in qs)


def prepare_buckets(buckets: Iterable[Bucket]) -> list[Bucket] | None:
    """Sort, merge and repair `buckets`, or return None when they yield no quantile."""
    ordered = sorted(
        (bound, count)
        for bound, count in buckets
        if not (math.isnan(bound) or math.isnan(count))
    )
    if not ordered or ordered[-1][0] != math.inf:
        return None
    merged = _merge_equal_bounds(ordered)
    if len(merged) < 2:
        return None
    counts = _repair_counts([count for _, count in merged])
    if counts[-1] == 0:
        return None
    return [(bound, count) for (bound, _), count in zip(merged, counts, strict=True)]


def quantile_of_prepared(q: float, prepared: list[Bucket] | None) -> float | None:
    """Return the `q`-quantile of buckets that `prepare_buckets` returned."""
    if math.isnan(q) or prepared is None:
        return None
    if q < 0:
        return -math.inf
    if q > 1:
        return math.inf
    rank = q * prepared[-1][1]
    finite_counts = [count for _, count in prepared[:-1]]
    index = bisect_left(finite_counts, rank)
    if index == len(prepared) - 1:
        return prepared[-2][0]
    bound, count = prepared[index]
    if index == 0:
        if bound <= 0:
            return bound
        if count == 0:
            # Only q == 0 over an empty lowest bucket gets here. Prometheus yields 0/0.
            return None
        return bound * (rank / count)
    start, below = prepared[index - 1]
    return start + (bound - start) * ((rank - below) / (count - below))


def _merge_equal_bounds(ordered: list[Bucket]) -> list[Bucket]:
    merged: list[Bucket] = []
    for bound, count in ordered:
        if merged and merged[-1][0] == bound:
            merged[-1] = (bound, merged[-1][1] + count)
        else:
            merged.append((bound, count))
    return merged


def _repair_counts(counts: list[float]) -> list[float]:
    """Flatten float noise, then raise each count to at least the one before it."""
    repaired = list(counts)
    previous = repaired[0]
    for index in range(1, len(repaired)):
        current = repaired[index]
        delta = abs(current - previous)
        if delta == 0:
            continue
        if current != 0 and delta / current <= PRECISION_TOLERANCE:
            repaired[index] = previous
        else:
            previous = current
    highest = repaired[0]
    for index in range(1, len(repaired)):
        if repaired[index] < highest:
            repaired[index] = highest
        else:
            highest = repaired[index]
    return repaired
