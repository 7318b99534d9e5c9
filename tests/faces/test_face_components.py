"""gfpgan/faces/components.py: the eye/mouth box rule from 68 / 5 landmarks and FFHQ entries, crop locations."""
import copy

import numpy as np
import pytest
import torch

from gfpgan.faces import FFHQ_TEMPLATE_5, MEAN_SHAPE_68
from gfpgan.faces.components import (COMPONENTS, boxes_from_ffhq_entry, boxes_from_landmarks5, boxes_from_landmarks68,
                                     component_locations, draw_component_boxes, ffhq_template_boxes)

BOXES = {'left_eye': (195.25, 239.5, 24.0), 'right_eye': (317.5, 239.0, 16.0), 'mouth': (256.75, 379.0, 55.5)}


def _hand_made_landmarks():
    """68 points whose eye / mouth boxes are known: left eye 40x10 (half_len 20), right eye 10x6 (floored
    to 16), mouth 80x50 (half_len 40); every other point far away so that it cannot matter."""
    points = np.full((68, 2), 5000.0)
    points[36:42] = [[100, 205], [110, 200], [130, 200], [140, 205], [130, 210], [110, 210]]
    points[42:48] = [[300, 203], [303, 200], [307, 200], [310, 203], [307, 206], [303, 206]]
    mouth = [[200 + 4 * i, 380 + (i % 5) * 10] for i in range(20)]
    mouth[0], mouth[6] = [200, 400], [280, 400]
    points[48:68] = mouth
    return points


def test_landmarks68_rule_and_floor():
    points = _hand_made_landmarks()
    boxes = boxes_from_landmarks68(points)
    assert boxes['left_eye'] == (120.0, 205.0, 20.0)
    assert boxes['right_eye'] == (305.0, 203.0, 16.0)  # half of 10 is 5: the floor of 16 applies
    mouth = points[48:68]
    assert boxes['mouth'] == pytest.approx((mouth[:, 0].mean(), mouth[:, 1].mean(), 40.0), abs=1e-12)
    assert all(type(v) is float for part in COMPONENTS for v in boxes[part])
    with pytest.raises(ValueError, match='68 finite'):
        boxes_from_landmarks68(points[:60])


def test_ffhq_entry_scales_to_512_before_the_floor():
    points = _hand_made_landmarks() * 2  # as in the 1024x1024 FFHQ images
    boxes = boxes_from_ffhq_entry({'image': {'face_landmarks': points.tolist(), 'pixel_size': [1024, 1024]}})
    assert boxes['left_eye'] == (120.0, 205.0, 20.0)
    assert boxes['right_eye'] == (305.0, 203.0, 16.0)  # 12 px wide at 1024 -> 3 at 512 -> floored to 16
    with pytest.raises(ValueError, match='face_landmarks'):
        boxes_from_ffhq_entry({'in_the_wild': {}})


def _similarity(points, scale, angle, shift):
    c, s = np.cos(angle), np.sin(angle)
    return scale * points @ np.array([[c, s], [-s, c]]) + shift


def test_five_point_fit_recovers_a_moved_mean_shape():
    shape = _similarity(MEAN_SHAPE_68, 310.0, np.deg2rad(7), np.array([90.0, 40.0]))
    five = np.stack([shape[36:42].mean(0), shape[42:48].mean(0), shape[30], shape[48], shape[54]])
    got, want = boxes_from_landmarks5(five), boxes_from_landmarks68(shape)
    for part in COMPONENTS:
        assert got[part] == pytest.approx(want[part], abs=1e-6)
    with pytest.raises(ValueError, match='5 finite'):
        boxes_from_landmarks5(five[:4])


def test_template_boxes_are_plausible():
    boxes = ffhq_template_boxes()
    (lx, ly, lh), (rx, ry, rh), (mx, my, mh) = (boxes[p] for p in COMPONENTS)
    assert 20 <= lh <= 40 and 20 <= rh <= 40 and 40 <= mh <= 80
    assert lx < 256 < rx and abs((lx + rx) / 2 - 256) < 3 and abs(mx - 256) < 3
    assert abs(ly - ry) < 3 and my > ly + 100
    for (x, y), centre in zip(FFHQ_TEMPLATE_5[:2], (boxes['left_eye'], boxes['right_eye'])):
        assert abs(x - centre[0]) < 5 and abs(y - centre[1]) < 5  # box centres sit on the template's eye points


def _original_formula(box, ratio=1.0):
    """[x - h + 1, y - h + 1, x + h, y + h] in float64, then float32, as the original dataset does at 512."""
    x, y, h = box
    h = h * ratio
    return torch.tensor([x - h + 1, y - h + 1, x + h, y + h], dtype=torch.float64).float()


def test_locations_at_512_equal_the_original():
    boxes = BOXES
    for ratio in (1.0, 1.4):
        locs = component_locations(boxes, 512, eye_enlarge_ratio=ratio)
        for loc, part in zip(locs, COMPONENTS):
            assert loc.dtype == torch.float32 and loc.shape == (4, )
            assert torch.equal(loc, _original_formula(boxes[part], 1.0 if part == 'mouth' else ratio))


@pytest.mark.parametrize('hflip', [False, True])
def test_locations_scale_with_the_image(hflip):
    boxes = BOXES
    base = torch.stack(component_locations(boxes, 512, hflip=hflip, eye_enlarge_ratio=1.4)).double()
    offset = torch.tensor([1.0, 1.0, 0.0, 0.0], dtype=torch.float64)  # the +1 of x1, y1 is in output pixels
    for size in (256, 1024):
        locs = torch.stack(component_locations(boxes, size, hflip=hflip, eye_enlarge_ratio=1.4)).double()
        assert torch.allclose(locs - offset, (base - offset) * size / 512, atol=1e-4)
        assert locs.min() >= 0 and locs.max() <= size


def test_flip_swaps_eyes_mirrors_and_never_mutates():
    boxes = {part: list(v) for part, v in BOXES.items()}
    before = copy.deepcopy(boxes)
    first = component_locations(boxes, 512, hflip=True)
    for _ in range(3):
        assert all(torch.equal(a, b) for a, b in zip(component_locations(boxes, 512, hflip=True), first))
    assert boxes == before
    plain = component_locations(boxes, 512)
    assert all(torch.equal(a, b) for a, b in zip(component_locations(boxes, 512), plain))
    x, y, h = boxes['right_eye']
    assert torch.equal(first[0], _original_formula((512 - x, y, h)))  # image-left eye after the flip
    x, y, h = boxes['left_eye']
    assert torch.equal(first[1], _original_formula((512 - x, y, h)))
    x, y, h = boxes['mouth']
    assert torch.equal(first[2], _original_formula((512 - x, y, h)))
    with pytest.raises(ValueError, match='image_size'):
        component_locations(boxes, 0)


def test_draw_returns_a_marked_copy():
    img = np.zeros((256, 256, 3), np.uint8)
    out = draw_component_boxes(img, ffhq_template_boxes(), 256)
    assert out.shape == img.shape and out.dtype == np.uint8
    assert img.max() == 0 and out.max() == 255
    x1, y1, x2, y2 = (int(round(float(v))) for v in component_locations(ffhq_template_boxes(), 256)[2])
    assert out[y1, (x1 + x2) // 2].any() and not out[(y1 + y2) // 2, (x1 + x2) // 2].any()
