"""Shared fixtures of the video tests: the astronaut's face with its 5 landmarks, and small made-up clips."""
import numpy as np
import pytest

pytest.importorskip('av', reason='PyAV is not installed (pip install av)')

# the face crop of scikit-image's astronaut photo (512x512) used by the clips: rows, columns
FACE_ROWS, FACE_COLS = slice(40, 190), slice(150, 290)


@pytest.fixture(scope='session')
def astronaut_face():
    """(face, landmarks): the astronaut's face, (150, 140, 3) BGR uint8, and its 5 landmarks (5, 2) in its pixels
    (eyes, nose, mouth corners; measured once on the full photo, gfpgan.benchmark.suites.ASTRONAUT_LANDMARKS)."""
    skdata = pytest.importorskip('skimage.data')
    from gfpgan.benchmark.suites import ASTRONAUT_LANDMARKS
    photo = skdata.astronaut()[:, :, ::-1]
    face = np.ascontiguousarray(photo[FACE_ROWS, FACE_COLS])
    landmarks = np.asarray(ASTRONAUT_LANDMARKS, np.float64) - (FACE_COLS.start, FACE_ROWS.start)
    return face, landmarks


@pytest.fixture(scope='session')
def small_clip(astronaut_face):
    """24 frames at 160x120 of the face on a smooth path (fast to encode)."""
    from gfpgan.video.synthetic import moving_face_clip
    face, landmarks = astronaut_face
    return moving_face_clip(face, landmarks, frames=24, size=(160, 120))
