import numpy as np
import pytest

from app.domain import detect


def series(n=3 * 1440, step_at=None, step=0.0, seed=0):
    rng = np.random.default_rng(seed)
    ts = np.datetime64("2026-11-01T00:00") + np.arange(n).astype("timedelta64[m]")
    minute = np.arange(n) % 1440
    x = 100 + 30 * np.sin(2 * np.pi * (minute - 540) / 1440) + rng.normal(0, 2, n)
    if step_at is not None:
        x[step_at:] += step
    return ts, x


@pytest.mark.parametrize("name", list(detect.DETECTORS))
def test_scores_are_causal_and_bounded(name):
    ts, x = series(n=2 * 1440 + 300, step_at=2 * 1440 + 100, step=40)
    full = detect.score(name, x, ts)
    assert full.min() >= 0 and full.max() <= 1
    for k in (50, 1500, 2 * 1440 + 120, len(x)):
        prefix = detect.score(name, x[:k], ts[:k])
        assert np.allclose(prefix, full[:k]), f"{name}: score of row {k - 1} used later rows"


def test_default_catches_a_step_fast_and_ignores_the_daily_rhythm():
    start = 2 * 1440 + 700
    ts, x = series(step_at=start, step=25)
    alerts = detect.score("seasonal_robust", x, ts) >= 0.5
    first = int(np.argmax(alerts[start:]))
    assert alerts[start:].any() and first <= 3  # within 3 samples (minutes)
    assert detect.episodes(alerts[1440:start]) <= 1  # a calm day with a strong daily swing
    ts, calm = series(seed=3)
    assert detect.episodes(detect.score("seasonal_robust", calm, ts)[1440:] >= 0.5) <= 2


def test_missing_values_score_zero_and_unknown_detector():
    ts, x = series(n=300)
    x[100] = np.nan
    assert detect.score("robust_z", x, ts)[100] == 0
    with pytest.raises(KeyError, match="unknown detector 'magic'"):
        detect.score("magic", x, ts)
    assert detect.episodes(np.array([0, 1, 1, 0, 1], dtype=bool)) == 2


def test_binomial_on_counted_events():
    rng = np.random.default_rng(4)
    n = rng.poisson(25, 4 * 1440).astype(float)
    k = rng.binomial(n.astype(int), 0.015).astype(float)
    calm = detect.binomial(k, n) >= 0.5
    assert detect.episodes(calm) == 0  # four calm days of ~25 decisions a minute at 1.5%
    start = 3 * 1440
    k2 = k.copy()
    k2[start:] = rng.binomial(n[start:].astype(int), 0.21)
    s = detect.binomial(k2, n)
    assert int(np.argmax(s[start:] >= 0.5)) <= 3  # the decline spike within 3 minutes
    assert np.allclose(detect.binomial(k2[:start + 2], n[:start + 2]), s[:start + 2])  # causal
