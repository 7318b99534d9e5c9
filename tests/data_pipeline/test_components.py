"""gfpgan/data/components.py: the eye/mouth box rule, safe loading of the release layout, crop locations."""
import copy
import os
import zipfile

import numpy as np
import pytest
import torch

from gfpgan.data.components import (COMPONENTS, FFHQ_TEMPLATE_5, MEAN_SHAPE_68, RELEASE_URL, boxes_from_ffhq_entry,
                                    boxes_from_landmarks5, boxes_from_landmarks68, component_locations,
                                    draw_component_boxes, ffhq_template_boxes, load_component_boxes,
                                    save_component_boxes)


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


RELEASE_LIKE = {
    '00000000': {
        'left_eye': [np.float64(195.25), np.float64(239.5), np.float64(24.0)],
        'right_eye': [np.float64(317.5), np.float64(239.0), np.float64(16.0)],
        'mouth': [np.float64(256.75), np.float64(379.0), np.float64(55.5)],
    },
    '00000001': {
        'left_eye': np.array([190.0, 240.0, 22.5]),
        'right_eye': np.array([320.0, 241.0, 23.0]),
        'mouth': np.array([255.0, 380.0, 50.0]),
    },
}
RELEASE_VALUES = {
    '00000000': {
        'left_eye': (195.25, 239.5, 24.0),
        'right_eye': (317.5, 239.0, 16.0),
        'mouth': (256.75, 379.0, 55.5)
    },
    '00000001': {
        'left_eye': (190.0, 240.0, 22.5),
        'right_eye': (320.0, 241.0, 23.0),
        'mouth': (255.0, 380.0, 50.0)
    },
}


def _as_numpy1_pickle(src, dst):
    """Rewrite a torch.save zip file so that its pickle names numpy 1's module paths, as the release file does."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, 'w', zipfile.ZIP_STORED) as zout:
        for info in zin.infolist():
            data = zin.read(info.filename)
            if info.filename.endswith('data.pkl'):
                data = data.replace(b'numpy._core.multiarray', b'numpy.core.multiarray')
            zout.writestr(info.filename, data)


def test_release_layout_with_numpy_values_loads(tmp_path):
    torch.save(RELEASE_LIKE, tmp_path / 'np2.pth')
    _as_numpy1_pickle(tmp_path / 'np2.pth', tmp_path / 'np1.pth')
    for name in ('np2.pth', 'np1.pth'):
        boxes = load_component_boxes(tmp_path / name)
        assert boxes == RELEASE_VALUES
        assert all(type(v) is float for entry in boxes.values() for part in COMPONENTS for v in entry[part])


class _Payload:

    def __init__(self, func, arg):
        self.func, self.arg = func, arg

    def __reduce__(self):
        return self.func, (self.arg, )


@pytest.mark.parametrize('kind', ['os.system', 'exec'])
def test_code_running_pickle_is_refused(tmp_path, kind):
    marker = tmp_path / 'pwned'
    payload = (
        _Payload(os.system, f'touch {marker}') if kind == 'os.system' else _Payload(
            exec, f'open({str(marker)!r}, "w").close()'))
    data = copy.deepcopy(RELEASE_VALUES)
    data['00000000']['mouth'] = [payload, np.float64(1.0), np.float64(20.0)]
    torch.save(data, tmp_path / 'evil.pth')
    with pytest.raises(ValueError, match='Refusing to read') as err:
        load_component_boxes(tmp_path / 'evil.pth')
    assert str(tmp_path / 'evil.pth') in str(err.value) and ('system' in str(err.value) or 'exec' in str(err.value))
    assert not marker.exists()


@pytest.mark.parametrize(
    'entry, message',
    [
        ({
            'left_eye': [1.0, 2.0, 20.0],
            'right_eye': [1.0, 2.0, 20.0]
        }, "no 'mouth'"),
        ({
            'left_eye': [1.0, 2.0],
            'right_eye': [1.0, 2.0, 20.0],
            'mouth': [1.0, 2.0, 20.0]
        }, '3 finite'),
        ({
            'left_eye': [1.0, float('nan'), 3.0],
            'right_eye': [1, 2, 20],
            'mouth': [1, 2, 20]
        }, '3 finite'),
        ({
            'left_eye': [1.0, 2.0, -3.0],
            'right_eye': [1, 2, 20],
            'mouth': [1, 2, 20]
        }, 'not positive'),
        ({
            'left_eye': ['a', 2.0, 3.0],
            'right_eye': [1, 2, 20],
            'mouth': [1, 2, 20]
        }, 'not numeric'),
        ([1.0, 2.0, 3.0], 'not a dict'),
    ],
)
def test_structure_errors_name_the_file_and_first_bad_key(tmp_path, entry, message):
    path = tmp_path / 'bad.pth'
    torch.save({'00000000': RELEASE_VALUES['00000000'], '00000001': entry, '00000002': entry}, path)
    with pytest.raises(ValueError, match=message) as err:
        load_component_boxes(path)
    assert str(path) in str(err.value) and "'00000001'" in str(err.value) and '00000002' not in str(err.value)


def test_not_a_dict_and_missing_file(tmp_path):
    torch.save([1, 2, 3], tmp_path / 'list.pth')
    with pytest.raises(ValueError, match='dict keyed by dataset index'):
        load_component_boxes(tmp_path / 'list.pth')
    (tmp_path / 'junk.pth').write_bytes(b'not a torch file')
    with pytest.raises(ValueError, match='Cannot read .*junk.pth'):
        load_component_boxes(tmp_path / 'junk.pth')
    missing = tmp_path / 'FFHQ_eye_mouth_landmarks_512.pth'
    with pytest.raises(FileNotFoundError) as err:
        load_component_boxes(missing)
    for text in (str(missing), 'component_path', RELEASE_URL, 'scripts/extract_components.py'):
        assert text in str(err.value)


def test_save_writes_plain_floats_in_the_release_layout(tmp_path):
    save_component_boxes(RELEASE_LIKE, tmp_path / 'boxes.pth', numpy_scalars=False)
    raw = torch.load(tmp_path / 'boxes.pth', weights_only=True)  # no allow-list needed
    assert raw == {k: {p: list(v) for p, v in e.items()} for k, e in RELEASE_VALUES.items()}
    assert all(type(v) is float for entry in raw.values() for part in COMPONENTS for v in entry[part])
    assert load_component_boxes(tmp_path / 'boxes.pth') == RELEASE_VALUES

    save_component_boxes(RELEASE_VALUES, tmp_path / 'numpy.pth')
    raw = torch.load(tmp_path / 'numpy.pth', weights_only=False)
    assert type(raw['00000000']['mouth'][0]) is np.float64
    assert load_component_boxes(tmp_path / 'numpy.pth') == RELEASE_VALUES
    assert not [name for name in os.listdir(tmp_path) if name.endswith('.tmp')]


def _original_formula(box, ratio=1.0):
    """[x - h + 1, y - h + 1, x + h, y + h] in float64, then float32, as the original dataset does at 512."""
    x, y, h = box
    h = h * ratio
    return torch.tensor([x - h + 1, y - h + 1, x + h, y + h], dtype=torch.float64).float()


def test_locations_at_512_equal_the_original():
    boxes = RELEASE_VALUES['00000000']
    for ratio in (1.0, 1.4):
        locs = component_locations(boxes, 512, eye_enlarge_ratio=ratio)
        for loc, part in zip(locs, COMPONENTS):
            assert loc.dtype == torch.float32 and loc.shape == (4, )
            assert torch.equal(loc, _original_formula(boxes[part], 1.0 if part == 'mouth' else ratio))


@pytest.mark.parametrize('hflip', [False, True])
def test_locations_scale_with_the_image(hflip):
    boxes = RELEASE_VALUES['00000000']
    base = torch.stack(component_locations(boxes, 512, hflip=hflip, eye_enlarge_ratio=1.4)).double()
    offset = torch.tensor([1.0, 1.0, 0.0, 0.0], dtype=torch.float64)  # the +1 of x1, y1 is in output pixels
    for size in (256, 1024):
        locs = torch.stack(component_locations(boxes, size, hflip=hflip, eye_enlarge_ratio=1.4)).double()
        assert torch.allclose(locs - offset, (base - offset) * size / 512, atol=1e-4)
        assert locs.min() >= 0 and locs.max() <= size


def test_flip_swaps_eyes_mirrors_and_never_mutates():
    boxes = {part: list(v) for part, v in RELEASE_VALUES['00000000'].items()}
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
