"""Tail probabilities of the spike test against values worked out by hand."""

from __future__ import annotations

import math

import pytest

from haochaping.alerts.stats import surprise, upper_tail


def test_binomial_tail_matches_exact_sums() -> None:
    assert upper_tail(8, 10, 0.5) == pytest.approx(56 / 1024, rel=1e-12)
    assert upper_tail(1, 10, 0.5) == pytest.approx(1 - 1 / 1024, rel=1e-12)
    exact = sum(math.comb(200, x) * 0.02**x * 0.98 ** (200 - x) for x in range(12, 201))
    assert upper_tail(12, 200, 0.02) == pytest.approx(exact, rel=1e-9)


def test_beta_binomial_tail_is_wider_and_tends_to_the_binomial() -> None:
    def exact(k: int, n: int, a: float, b: float) -> float:
        def log_beta(x: float, y: float) -> float:
            return math.lgamma(x) + math.lgamma(y) - math.lgamma(x + y)

        return sum(math.comb(n, x) * math.exp(log_beta(x + a, n - x + b) - log_beta(a, b)) for x in range(k, n + 1))

    assert upper_tail(5, 50, 0.04, 100.0) == pytest.approx(exact(5, 50, 4.0, 96.0), rel=1e-9)
    assert upper_tail(12, 200, 0.02, 100.0) > upper_tail(12, 200, 0.02)
    assert upper_tail(12, 200, 0.02, 1e9) == pytest.approx(upper_tail(12, 200, 0.02), rel=1e-5)


def test_edges_and_fractional_counts() -> None:
    assert upper_tail(0, 100, 0.02) == 1.0
    assert upper_tail(101, 100, 0.02) == 0.0
    assert upper_tail(3, 0, 0.02) == 1.0
    assert upper_tail(3, 100, 0.0) == 0.0
    between = upper_tail(4.5, 100, 0.02)
    assert upper_tail(5, 100, 0.02) < between < upper_tail(4, 100, 0.02)
    assert surprise(0.001) == pytest.approx(3.0)
    assert surprise(0.0) == 300.0
