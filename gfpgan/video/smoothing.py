"""Smoothing over time along one face track: the value at frame t is a Gaussian-weighted local polynomial fit to the
track's own observations in [t - window, t + lookahead] (a Savitzky-Golay filter with Gaussian weights, evaluated
at t). Degree 2 for the 5-point landmarks: a face that moves, speeds up or turns is followed without lag whatever
the window's asymmetry (at a track's start or end, where the window is cut short), while the landmark noise is
averaged. Degree 0 (a weighted mean) for the paste masks, which live in the aligned face's frame and so do not
move with the face. A track never spans a shot cut, so neither does a window."""
import collections
import math

import numpy as np

__all__ = ['local_fit_weights', 'TrackWindow', 'noise_gain']


def local_fit_weights(offsets, sigma, degree=1):
    """Weights w (n,) such that sum_i w_i v_i is the value at offset 0 of the least-squares polynomial of
    ``degree`` fitted to values v_i at frame ``offsets`` (n,) with Gaussian weights of std ``sigma`` frames. The
    weights sum to 1 and reproduce any polynomial motion of that degree exactly. A window with too few distinct
    frames for the degree is fitted with the highest degree it allows (one frame: the frame itself)."""
    x = np.asarray(offsets, dtype=np.float64)
    g = np.exp(-0.5 * (x / sigma)**2)
    degree = min(int(degree), len(np.unique(x)) - 1)
    if degree <= 0:
        return g / g.sum()
    basis = np.vander(x / sigma, degree + 1, increasing=True)  # offsets scaled by sigma: a well-conditioned system
    normal = basis.T @ (g[:, None] * basis)
    return np.linalg.solve(normal, basis.T * g)[0]


class TrackWindow:
    """The observations of each track (frame index -> array of any shape) and their smoothed value at a frame.

    ``add`` every observation as it comes, ``smoothed(track, t)`` once the frames up to t + ``lookahead`` have been
    added (or the track or video has ended), ``forget_before(t)`` to drop what no later frame needs (memory stays
    bounded: ``window + lookahead + 1`` observations a track)."""

    def __init__(self, window=8, lookahead=4, sigma=None, degree=2):
        if window < 0 or lookahead < 0:
            raise ValueError(f'window and lookahead must be >= 0 frames, got {window} and {lookahead}.')
        self.window = int(window)
        self.lookahead = int(lookahead)
        self.sigma = float(sigma) if sigma else max(1.0, (self.window + self.lookahead) / 3)
        self.degree = degree
        self._tracks = collections.defaultdict(collections.OrderedDict)

    def add(self, track_id, index, value):
        """Keep ``value``: float32 stays float32 (a 512x512 paste mask is 1 MB, not 2), anything else is float64."""
        value = np.asarray(value)
        self._tracks[track_id][index] = value if value.dtype == np.float32 else value.astype(np.float64)

    def smoothed(self, track_id, index):
        """The smoothed value of ``track_id`` at frame ``index`` (which it must have been observed at)."""
        seen = self._tracks[track_id]
        frames = [i for i in seen if index - self.window <= i <= index + self.lookahead]
        weights = local_fit_weights(np.array(frames) - index, self.sigma, self.degree).astype(seen[index].dtype)
        return sum(w * seen[i] for w, i in zip(weights, frames))

    def forget_before(self, index):
        """Drop the observations that frames from ``index`` on no longer use (and tracks left with none)."""
        oldest = index - self.window
        for track_id in list(self._tracks):
            seen = self._tracks[track_id]
            while seen and next(iter(seen)) < oldest:
                seen.popitem(last=False)
            if not seen:
                del self._tracks[track_id]

    def __len__(self):
        """The number of observations held."""
        return sum(map(len, self._tracks.values()))


def noise_gain(window, lookahead, sigma=None, degree=2):
    """The factor by which independent noise of the observations is scaled at a frame with a full window:
    sqrt(sum w_i^2) (1 = no smoothing)."""
    sigma = float(sigma) if sigma else max(1.0, (window + lookahead) / 3)
    return math.sqrt(float((local_fit_weights(np.arange(-window, lookahead + 1), sigma, degree)**2).sum()))
