"""Faces followed from frame to frame: detection every ``detect_every`` frames, the landmarks carried between
detections by sparse Lucas-Kanade optical flow, detections matched to tracks by box overlap and landmark distance
(Hungarian assignment), new tracks born, lost tracks kept a few frames then ended, and shot cuts (a jump of the HSV
colour histogram between consecutive frames) ending every track, so that nothing smoothed over time crosses a cut."""
import dataclasses

import cv2
import numpy as np
from scipy.optimize import linear_sum_assignment

from gfpgan.restoration.core import detect_faces

__all__ = ['TrackedFace', 'ShotCutDetector', 'FaceTracker', 'box_iou', 'frame_histogram']

HIST_WIDTH = 160  # frames are shrunk to this width before their histogram: cheap, and blind to pixel noise
LK_WINDOW = (21, 21)
LK_LEVELS = 3


@dataclasses.dataclass
class TrackedFace:
    """One face of one frame: ``track_id`` (unique over the whole video, never reused), ``box`` (4,) x1 y1 x2 y2,
    ``score``, ``landmarks`` (5, 2) in frame pixels, and whether a detector found it in this frame (``detected``)
    or optical flow carried it from the previous one."""
    track_id: int
    box: np.ndarray
    score: float
    landmarks: np.ndarray
    detected: bool = True


def box_iou(a, b):
    """Intersection over union of two x1 y1 x2 y2 boxes (0 when either is empty)."""
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    inter = max(w, 0) * max(h, 0)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0


def frame_histogram(img, bins=(16, 8)):
    """The normalised hue-saturation histogram of a BGR uint8 frame (shrunk to ``HIST_WIDTH`` wide first)."""
    h, w = img.shape[:2]
    if w > HIST_WIDTH:
        img = cv2.resize(img, (HIST_WIDTH, max(1, round(h * HIST_WIDTH / w))), interpolation=cv2.INTER_AREA)
    hsv = cv2.cvtColor(img, cv2.COLOR_BGR2HSV)
    hist = cv2.calcHist([hsv], [0, 1], None, list(bins), [0, 180, 0, 256])
    return cv2.normalize(hist, hist, 1, 0, cv2.NORM_L1)


class ShotCutDetector:
    """Shot cuts: a frame whose hue-saturation histogram lies farther than ``threshold`` (Bhattacharyya distance,
    0 same colours .. 1 disjoint) from the previous frame's. A face moving inside one shot changes the histogram by
    a few hundredths; a cut to another scene by a few tenths."""

    def __init__(self, threshold=0.3):
        if not 0 < threshold <= 1:
            raise ValueError(f'The shot-cut threshold must lie in (0, 1], got {threshold}.')
        self.threshold = threshold
        self._previous = None
        self.last_distance = 0.0

    def is_cut(self, img):
        """Whether ``img`` (BGR uint8) starts a new shot (never the first frame)."""
        hist = frame_histogram(img)
        previous, self._previous = self._previous, hist
        if previous is None:
            return False
        self.last_distance = float(cv2.compareHist(previous, hist, cv2.HISTCMP_BHATTACHARYYA))
        return self.last_distance > self.threshold


@dataclasses.dataclass
class _Track:
    track_id: int
    box: np.ndarray
    score: float
    landmarks: np.ndarray
    lost: int = 0  # frames since a detection last matched it
    current: bool = True  # whether its landmarks are those of the previous frame (detected or carried by flow)


class FaceTracker:
    """Follow the faces of consecutive frames; ``update(img)`` gives the faces of the next frame as ``TrackedFace``.

    Args:
        detector: an object with ``detect(img)`` -> [dict(box, score, landmarks)] (``gfpgan.faces.detectors``).
        detect_every: run the detector on every n-th frame (and at each cut); in between, each track's landmarks
            are carried by pyramidal Lucas-Kanade optical flow of its five points (a track whose points cannot be
            followed is lost until the next detection).
        max_lost: frames a track may go unmatched before it ends (not restored meanwhile, but it keeps its identity
            and smoothing history if found again).
        fill_gaps: for up to this many frames an unmatched track is still carried by optical flow and reported
            (``detected`` False), so a face the detector misses for a frame or two is still restored.
        min_iou / max_distance: a detection may continue a track when their boxes overlap by at least ``min_iou``
            or their landmarks lie on average within ``max_distance`` x the track's box size; among those, the
            assignment of least total (1 - IoU + distance) is taken.
        cut_threshold: the ``ShotCutDetector`` threshold; None: no cut detection.
        eye_dist_threshold / select: as ``gfpgan.restoration.core.detect_faces`` (tiny faces dropped; 'center' or
            'largest' keeps one face per detection).
    """

    def __init__(self, detector, detect_every=1, max_lost=5, min_iou=0.2, max_distance=0.5, cut_threshold=0.3,
                 eye_dist_threshold=5, select=None, fill_gaps=2):
        if int(detect_every) < 1:
            raise ValueError(f'detect_every must be at least 1, got {detect_every}.')
        self.detector = detector
        self.detect_every = int(detect_every)
        self.max_lost = int(max_lost)
        self.fill_gaps = min(int(fill_gaps), self.max_lost)
        self.min_iou = min_iou
        self.max_distance = max_distance
        self.cuts = None if cut_threshold is None else ShotCutDetector(cut_threshold)
        self.eye_dist_threshold = eye_dist_threshold
        self.select = select
        self.tracks = []
        self.next_id = 0
        self.frame_index = -1
        self.num_cuts = 0
        self.cut = False
        self._since_detection = None
        self._gray = None

    def update(self, img):
        """The faces of the next frame ``img`` (H, W, 3) BGR uint8: a list of ``TrackedFace``. After a cut every
        earlier track has ended (``self.cut`` says whether this frame started a new shot)."""
        self.frame_index += 1
        gray = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
        self.cut = self.cuts is not None and self.cuts.is_cut(img)
        if self.cut:
            self.num_cuts += 1
            self.tracks = []
        detect = self.cut or self._since_detection is None or self._since_detection + 1 >= self.detect_every
        if detect:
            self._since_detection = 0
            faces = self._detect(img, gray)
        else:
            self._since_detection += 1
            faces = self._follow(gray)
        self._gray = gray
        return faces

    def _detect(self, img, gray):
        found = detect_faces(img, self.detector, eye_dist_threshold=self.eye_dist_threshold, select=self.select)
        matched = self._associate(found)
        faces, used = [], set()
        for k, face in enumerate(found):
            track = matched.get(k)
            if track is None:
                track = _Track(self.next_id, face.box, face.score, face.landmarks)
                self.next_id += 1
                self.tracks.append(track)
            track.box, track.score, track.landmarks, track.lost, track.current = \
                face.box, face.score, face.landmarks, 0, True
            used.add(track.track_id)
            faces.append(TrackedFace(track.track_id, face.box.copy(), face.score, face.landmarks.copy()))
        for track in self.tracks:
            if track.track_id in used:
                continue
            track.lost += 1
            moved = self._flow(track, gray) if track.current and track.lost <= self.fill_gaps else None
            if moved is None:
                track.current = False
            else:  # a short miss of the detector: carried by flow, still restored
                faces.append(self._moved(track, moved))
        self.tracks = [t for t in self.tracks if t.lost <= self.max_lost]
        return faces

    def _associate(self, found):
        """{detection index: track} of the least-cost gated assignment of ``found`` to the live tracks."""
        if not found or not self.tracks:
            return {}
        cost = np.full((len(found), len(self.tracks)), np.inf)
        for i, face in enumerate(found):
            for j, track in enumerate(self.tracks):
                iou = box_iou(face.box, track.box)
                size = max(track.box[2] - track.box[0], track.box[3] - track.box[1], 1.0)
                distance = np.linalg.norm(face.landmarks - track.landmarks, axis=1).mean() / size
                if iou >= self.min_iou or distance <= self.max_distance:
                    cost[i, j] = (1 - iou) + distance
        finite = np.where(np.isfinite(cost), cost, 1e6)
        rows, cols = linear_sum_assignment(finite)
        return {i: self.tracks[j] for i, j in zip(rows, cols) if np.isfinite(cost[i, j])}

    def _follow(self, gray):
        """The live tracks carried from the previous frame by optical flow of their landmarks."""
        faces = []
        for track in self.tracks:
            if track.lost:  # missed by the last detection: carried only while the gap is short
                track.lost += 1
            moved = self._flow(track, gray) if track.current and track.lost <= self.fill_gaps else None
            if moved is None:
                track.lost, track.current = max(track.lost, 1), False
                continue
            faces.append(self._moved(track, moved))
        self.tracks = [t for t in self.tracks if t.lost <= self.max_lost]
        return faces

    def _flow(self, track, gray):
        """The track's landmarks carried from the previous frame to ``gray`` by pyramidal Lucas-Kanade optical flow,
        or None when a point is lost or leaves the frame."""
        h, w = gray.shape
        points = track.landmarks.astype(np.float32).reshape(-1, 1, 2)
        moved, status, _ = cv2.calcOpticalFlowPyrLK(self._gray, gray, points, None, winSize=LK_WINDOW,
                                                    maxLevel=LK_LEVELS)
        if moved is None or status is None or not status.all():
            return None
        moved = moved.reshape(-1, 2).astype(np.float64)
        return moved if np.all((moved >= 0) & (moved < [w, h])) else None

    @staticmethod
    def _moved(track, moved):
        """Move ``track`` to the landmarks ``moved`` (its box shifted alike): its ``TrackedFace``, not detected."""
        shift = (moved - track.landmarks).mean(0)
        track.landmarks, track.box, track.current = moved, track.box + np.tile(shift, 2), True
        return TrackedFace(track.track_id, track.box.copy(), track.score, moved.copy(), detected=False)
