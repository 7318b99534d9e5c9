"""Landmark and mask smoothing along a track: exact on linear motion, lower jitter on a noisy smooth path, windows
that end with their track and memory that stays bounded."""
import numpy as np
import pytest

from gfpgan.video.smoothing import TrackWindow, local_fit_weights, noise_gain


@pytest.mark.parametrize('offsets', [range(-8, 5), range(-8, 1), range(0, 5), [-3, -1, 0, 2]])
def test_fit_weights_sum_to_one_and_follow_polynomial_motion_without_lag(offsets):
    offsets = np.array(list(offsets), np.float64)
    w = local_fit_weights(offsets, sigma=4, degree=1)
    assert w.sum() == pytest.approx(1)
    for speed in (0.5, -3.0):
        assert (w * (10 + speed * offsets)).sum() == pytest.approx(10)  # the value at offset 0, no lag
    w2 = local_fit_weights(offsets, sigma=4, degree=2)
    assert (w2 * (10 + 2 * offsets - 0.7 * offsets**2)).sum() == pytest.approx(10)  # accelerating: still exact
    assert (w * (10 - 0.7 * offsets**2)).sum() != pytest.approx(10)  # (which degree 1 is not)
    mean = local_fit_weights(offsets, sigma=4, degree=0)
    assert mean.sum() == pytest.approx(1) and np.all(mean > 0)
    assert np.array_equal(local_fit_weights([0.0], 4), [1.0])  # a window of one frame: the frame itself
    assert local_fit_weights([0.0, 1.0], 4, degree=2) == pytest.approx([1, 0])  # two frames: a line through them


def _path(n):
    """A smooth 5-point landmark path (n, 5, 2): a drift plus a slow sway, like a talking head."""
    t = np.arange(n)[:, None, None]
    base = np.array([[100, 100], [140, 100], [120, 120], [105, 140], [135, 140]], np.float64)
    return base + np.concatenate([1.5 * t + 6 * np.sin(t / 9), 0.5 * t + 4 * np.cos(t / 13)], axis=2)


def _smooth_all(observed, window, lookahead, track_id=0):
    smoother = TrackWindow(window, lookahead)
    out = []
    for t, points in enumerate(observed):
        smoother.add(track_id, t, points)
        if t >= lookahead:
            out.append(smoother.smoothed(track_id, t - lookahead))
            smoother.forget_before(t - lookahead + 1)
            assert len(smoother) <= window + lookahead + 1  # bounded memory
    for t in range(len(observed) - lookahead, len(observed)):  # the track ends: the window is cut short
        out.append(smoother.smoothed(track_id, t))
    return np.array(out)


def test_smoothing_lowers_landmark_jitter_on_a_noisy_smooth_path():
    rng = np.random.default_rng(0)
    truth = _path(120)
    noisy = truth + rng.normal(0, 1.5, truth.shape)
    smoothed = _smooth_all(noisy, window=8, lookahead=4)
    rms_before = np.sqrt(((noisy - truth)**2).sum(-1).mean())
    rms_after = np.sqrt(((smoothed - truth)**2).sum(-1).mean())
    # measured: 2.08 px -> 0.87 px (noise gain 0.41 at a full window, 0.32 for a local line, which lags on turns)
    assert rms_after < 0.5 * rms_before
    assert noise_gain(8, 4) == pytest.approx(0.41, abs=0.01)
    assert noise_gain(8, 4, degree=1) == pytest.approx(0.32, abs=0.01)
    # frame-to-frame jitter (the second difference, which a smooth path hardly has) falls far more: 5.03 -> 0.28
    jitter = lambda p: np.sqrt((np.diff(p, 2, axis=0)**2).sum(-1).mean())  # noqa: E731
    assert jitter(smoothed) < 0.1 * jitter(noisy)


def test_a_window_holds_only_its_own_track():
    smoother = TrackWindow(window=4, lookahead=2)
    for t in range(6):
        smoother.add('a', t, np.array([float(t)]))
    for t in range(6, 10):  # a new track right after (a cut): far away
        smoother.add('b', t, np.array([1000.0 + t]))
    assert smoother.smoothed('a', 5)[0] == pytest.approx(5)  # nothing of 'b' leaks into 'a' at its end
    assert smoother.smoothed('b', 6)[0] == pytest.approx(1006)
    smoother.forget_before(20)
    assert len(smoother) == 0
    with pytest.raises(ValueError, match='window and lookahead'):
        TrackWindow(-1, 2)


def test_mask_windows_average_without_moving():
    smoother = TrackWindow(window=2, lookahead=2, degree=0)
    masks = [np.full((4, 4), v) for v in (0.0, 1.0, 0.0, 1.0, 0.0)]
    for t, mask in enumerate(masks):
        smoother.add(7, t, mask)
    middle = smoother.smoothed(7, 2)
    assert 0.2 < middle.mean() < 0.6 and np.ptp(middle) == 0  # a flickering mask is averaged


def test_float32_masks_stay_float32_and_landmarks_float64():
    masks, points = TrackWindow(window=2, lookahead=2, degree=0), TrackWindow(window=2, lookahead=2)
    for t, v in enumerate((0.0, 1.0, 0.0, 1.0, 0.0)):
        masks.add(3, t, np.full((512, 512), v, np.float32))
        points.add(3, t, np.full((5, 2), v, np.float32 if t % 2 else np.int64))
    smoothed = masks.smoothed(3, 2)
    assert smoothed.dtype == np.float32 and sum(m.nbytes for m in masks._tracks[3].values()) == 5 * 512 * 512 * 4
    reference = TrackWindow(window=2, lookahead=2, degree=0)
    for t, v in enumerate((0.0, 1.0, 0.0, 1.0, 0.0)):
        reference.add(3, t, np.full((512, 512), v))
    assert np.allclose(smoothed, reference.smoothed(3, 2), atol=1e-6)  # the same average, half the memory
    assert points.smoothed(3, 2).dtype == np.float64  # int landmarks are kept as float64
