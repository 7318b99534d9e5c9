"""Stand-ins shared by the restoration tests."""
import numpy as np
import pytest


class CentreFace:
    """One 'face' in the middle of any photo: landmarks of the FFHQ template scaled into a centred square."""

    def detect(self, img):
        h, w = img.shape[:2]
        side = min(h, w) / 2
        template = np.array([[192.98, 239.95], [318.90, 240.19], [256.63, 314.02], [201.26, 371.41], [313.09, 371.15]
                             ]) / 512
        points = template * side + [(w - side) / 2, (h - side) / 2]
        box = np.array([(w - side) / 2, (h - side) / 2, (w + side) / 2, (h + side) / 2])
        return [dict(box=box, score=0.99, landmarks=points)]


@pytest.fixture
def centre_face():
    return CentreFace()
