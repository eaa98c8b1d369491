"""Tail probabilities for the spike test: binomial and beta-binomial, pure math (no scipy).

The detector asks how likely a window's complaints (or more) are when the step runs at its
baseline; counts are weighted, so a non-integer count interpolates between neighbours.
"""

from __future__ import annotations

import math

# Terms this small next to the sum so far, past the mode, no longer change the tail.
_NEGLIGIBLE = 1e-17


def upper_tail(k: float, n: int, rate: float, strength: float = math.inf) -> float:
    """P(X >= k) for X ~ BetaBinomial(n, rate*strength, (1-rate)*strength), or Binomial(n, rate) when strength is inf.

    The beta-binomial is the predictive distribution of a window's count when the baseline
    rate is itself only known to the weight of `strength` ratings. A fractional k is
    interpolated log-linearly between the tails at floor(k) and ceil(k).
    """
    if n <= 0 or k <= 0:
        return 1.0
    if k > n:
        return 0.0
    if rate <= 0.0:
        return 0.0
    if rate >= 1.0:
        return 1.0
    low = math.floor(k)
    fraction = k - low
    tail_low = _integer_tail(low, n, rate, strength)
    if fraction == 0.0:
        return tail_low
    tail_high = _integer_tail(low + 1, n, rate, strength)
    if tail_high <= 0.0 or tail_low <= 0.0:
        return tail_high if fraction > 0.5 else tail_low
    return math.exp((1.0 - fraction) * math.log(tail_low) + fraction * math.log(tail_high))


def surprise(p_value: float) -> float:
    """-log10 of a p-value: 3 = one in a thousand. The alert's score."""
    return -math.log10(max(p_value, 1e-300))


def _integer_tail(x0: int, n: int, rate: float, strength: float) -> float:
    if x0 <= 0:
        return 1.0
    if x0 > n:
        return 0.0
    if math.isinf(strength):
        a = b = math.inf
    else:
        a, b = rate * strength, (1.0 - rate) * strength
    mean = n * rate
    if x0 > mean:
        # Sum upwards from x0: the terms only fall from here once past the mode.
        return min(1.0, _sum_from(x0, n, rate, a, b, up=True))
    # Below the mean the upper tail is large: 1 - P(X <= x0 - 1), summed downwards.
    return max(0.0, 1.0 - _sum_from(x0 - 1, n, rate, a, b, up=False))


def _sum_from(start: int, n: int, rate: float, a: float, b: float, up: bool) -> float:
    term = math.exp(_log_pmf(start, n, rate, a, b))
    total = term
    x = start
    while True:
        if up:
            if x >= n:
                break
            term *= _ratio_up(x, n, rate, a, b)
            x += 1
        else:
            if x <= 0:
                break
            term /= _ratio_up(x - 1, n, rate, a, b)
            x -= 1
        total += term
        if term <= total * _NEGLIGIBLE and (x > n * rate if up else x < n * rate):
            break
    return total


def _ratio_up(x: int, n: int, rate: float, a: float, b: float) -> float:
    """pmf(x + 1) / pmf(x)."""
    if math.isinf(a):
        return (n - x) / (x + 1) * rate / (1.0 - rate)
    return (n - x) * (x + a) / ((x + 1) * (n - x - 1 + b))


def _log_pmf(x: int, n: int, rate: float, a: float, b: float) -> float:
    log_choose = math.lgamma(n + 1) - math.lgamma(x + 1) - math.lgamma(n - x + 1)
    if math.isinf(a):
        return log_choose + x * math.log(rate) + (n - x) * math.log1p(-rate)
    return log_choose + _log_beta(x + a, n - x + b) - _log_beta(a, b)


def _log_beta(a: float, b: float) -> float:
    return math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)
