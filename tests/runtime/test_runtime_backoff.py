"""Backoff policies: per-key exponential growth and reset, jittered supervisor delays."""

import random

import pytest

from orkestra_trio.runtime.backoff import JitteredBackoff, PerKeyBackoff, exponential_delay


def test_exponential_delay_doubles_from_5ms_and_caps_at_1000s() -> None:
    delays = [exponential_delay(n, base=0.005, cap=1000.0) for n in range(20)]
    assert delays[:4] == [0.005, 0.01, 0.02, 0.04]
    # 0.005 * 2**17 = 655.36 is the last uncapped step; 2**18 would be 1310.72.
    assert delays[17] == pytest.approx(655.36)
    assert delays[18] == delays[19] == 1000.0
    assert exponential_delay(10_000, base=0.005, cap=1000.0) == 1000.0


def test_exponential_delay_rejects_negative_failures() -> None:
    with pytest.raises(ValueError):
        exponential_delay(-1, base=1, cap=2)


def test_per_key_backoff_grows_per_key_and_resets_on_forget() -> None:
    backoff: PerKeyBackoff[str] = PerKeyBackoff()
    assert [backoff.next_delay("a") for _ in range(3)] == [0.005, 0.01, 0.02]
    # Another key is not affected by a's failures.
    assert backoff.next_delay("b") == 0.005
    assert backoff.failures("a") == 3
    backoff.forget("a")
    assert backoff.failures("a") == 0
    assert backoff.next_delay("a") == 0.005
    assert backoff.failures("b") == 1
    assert len(backoff) == 2
    backoff.forget("a")
    backoff.forget("b")
    backoff.forget("never-seen")
    assert len(backoff) == 0


def test_per_key_backoff_validates_bounds() -> None:
    with pytest.raises(ValueError):
        PerKeyBackoff(base=0)
    with pytest.raises(ValueError):
        PerKeyBackoff(base=2, cap=1)


def test_jittered_backoff_stays_within_its_band_and_cap() -> None:
    policy = JitteredBackoff(base=0.1, cap=30.0, jitter=0.5)
    rng = random.Random(7)
    for attempt in range(40):
        ceiling = min(30.0, 0.1 * 2**attempt)
        for _ in range(20):
            d = policy.delay(attempt, rng)
            assert ceiling * 0.5 <= d <= ceiling
    # The jitter actually varies the delay.
    assert len({policy.delay(3, rng) for _ in range(10)}) > 1


def test_jittered_backoff_is_reproducible_with_a_seeded_rng() -> None:
    policy = JitteredBackoff()
    a = [policy.delay(n, random.Random(1)) for n in range(5)]
    b = [policy.delay(n, random.Random(1)) for n in range(5)]
    assert a == b


def test_jitter_zero_is_plain_exponential() -> None:
    policy = JitteredBackoff(base=1.0, cap=8.0, jitter=0.0)
    assert [policy.delay(n) for n in range(5)] == [1.0, 2.0, 4.0, 8.0, 8.0]


def test_jittered_backoff_validates() -> None:
    with pytest.raises(ValueError):
        JitteredBackoff(jitter=1.5)
    with pytest.raises(ValueError):
        JitteredBackoff(base=0)
