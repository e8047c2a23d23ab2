"""The bitpacked-output threshold rule against brute force in exact rational arithmetic.

bit = 1 (-1) exactly when clamp(K - 2*accum, lo, hi) * m + b < 0, computed on the float32
values of m and b as rationals (semantics.md). The converter's threshold t must satisfy
bit == (accum > t) for every accum in [0, K]."""
from fractions import Fraction

import numpy as np
import pytest

from lce_convert._core import bitpacked_threshold

F32 = np.float32


def negative(K, lo, hi, m, b, accum):
    conv = min(max(K - 2 * accum, lo), hi)
    return conv * Fraction(float(m)) + Fraction(float(b)) < 0


def check(K, lo, hi, m, b, exhaustive=True):
    t = bitpacked_threshold(K, lo, hi, float(m), float(b))
    assert -1 <= t <= K
    if exhaustive:
        for a in range(K + 1):
            assert negative(K, lo, hi, m, b, a) == (a > t), (K, lo, hi, m, b, a, t)
    else:  # the predicate is monotone: checking both sides of t decides it
        if t >= 0:
            assert not negative(K, lo, hi, m, b, t)
        if t < K:
            assert negative(K, lo, hi, m, b, t + 1)
    return t


ACTIVATIONS = {"NONE": lambda K: (-K, K), "RELU": lambda K: (0, K), "RELU6": lambda K: (0, min(6, K)),
               "RELU_N1_TO_1": lambda K: (-1, 1)}


@pytest.mark.parametrize("K", [1, 2, 9, 27, 288, 576])
@pytest.mark.parametrize("act", sorted(ACTIVATIONS))
def test_edge_scales_and_biases(K, act):
    lo, hi = ACTIVATIONS[act](K)
    scales = [0.0, F32(1e-45), F32(1e-38), F32(3e-8), F32(0.37), F32(1.0), F32(3.5e5), F32(1e30)]
    biases = [0.0, -0.0, F32(1e-40), F32(-1e-40), F32(0.5), F32(-0.5), F32(-1.0), F32(2.0),
              F32(1e30), F32(-1e30), F32(-3 * K), F32(3 * K)]
    for m in scales:
        for b in biases:
            check(K, lo, hi, m, b)


def test_exact_ties_give_plus_one():
    # y == 0 exactly at conv == c: that accum must give bit 0 (+1).
    for K in (9, 64, 576):
        for m in (F32(0.1), F32(0.3), F32(1.7), F32(2.0 ** -20)):
            for c in range(-K, K + 1, 2 if K % 2 == 0 else 1):
                b = F32(-c * m)
                if Fraction(float(b)) != -c * Fraction(float(m)):
                    continue  # -c*m not representable: no exact tie
                t = check(K, -K, K, m, b)
                if (K - c) % 2 == 0:
                    accum_tie = (K - c) // 2
                    assert not (accum_tie > t)


def test_random_values_exhaustive():
    rng = np.random.default_rng(0)
    for _ in range(300):
        K = int(rng.integers(1, 200))
        lo, hi = ACTIVATIONS[rng.choice(sorted(ACTIVATIONS))](K)
        m = F32(abs(rng.normal()) * 10.0 ** rng.integers(-8, 8))
        b = F32(rng.normal() * 10.0 ** rng.integers(-8, 8))
        check(K, lo, hi, m, b)


def test_large_K_up_to_4608():
    rng = np.random.default_rng(1)
    for K in (4608, 4607, 3 * 3 * 512):
        for _ in range(20):
            m = F32(abs(rng.normal()))
            b = F32(rng.normal() * K * m)
            check(K, -K, K, m, b)


def test_thresholds_near_2_pow_24():
    # Thresholds around 2^24, where float32 cannot represent consecutive integers: the float
    # formula floor(0.5 * (b/m + K)) collapses neighbours; the exact rule does not.
    K = 2 ** 25 + 7
    for target in (2 ** 24 - 1, 2 ** 24, 2 ** 24 + 1, 2 ** 24 + 3):
        conv_at_boundary = K - 2 * target  # y changes sign between accum = target and target + 1
        m = F32(1.0)
        b = F32(-(conv_at_boundary - 1))    # y = conv - (conv_at_boundary - 1)
        t = check(K, -K, K, m, b, exhaustive=False)
        assert t == target
    # A case where LCE's float32 formula is off by one: float32(K) rounds 2^25 + 3 up to 2^25 + 4.
    K, m, b = 2 ** 25 + 3, F32(1.0), F32(0.0)
    exact = check(K, -K, K, m, b, exhaustive=False)
    float_formula = int(np.floor(F32(0.5) * (F32(b) / m + F32(K))))
    assert exact == 2 ** 24 + 1 and float_formula == 2 ** 24 + 2


def test_bad_arguments():
    with pytest.raises(ValueError):
        bitpacked_threshold(4, -4, 4, -1.0, 0.0)
    with pytest.raises(ValueError):
        bitpacked_threshold(4, -4, 4, float("nan"), 0.0)
    with pytest.raises(ValueError):
        bitpacked_threshold(0, 0, 0, 1.0, 0.0)
