"""scripts/extract_components.py and gfpgan.data.component_extraction(_cli): FFHQ metadata, landmark files, template
and detector modes, drawing, safety."""
import json
import os
import subprocess
import sys

import cv2
import numpy as np
import pytest
from skimage import data as skimage_data

from gfpgan.data.components import (COMPONENTS, FFHQ_TEMPLATE_5, MEAN_SHAPE_68, boxes_from_landmarks68,
                                    ffhq_template_boxes, load_component_boxes)
from gfpgan.data import component_extraction, component_extraction_cli
from gfpgan.errors import run_cli
from gfpgan.faces.alignment import align_face
from gfpgan.faces.haar import find_faces
from gfpgan.faces.selection import largest_index

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = os.path.join(ROOT, 'scripts', 'extract_components.py')


def _run(argv, capsys):
    """(exit code, stdout, stderr) of the script's main."""
    try:
        code = run_cli(component_extraction_cli.main, [str(a) for a in argv])
    except SystemExit as err:
        code = err.code
    out, err = capsys.readouterr()
    return code, out, err


def _face_1024(seed):
    """68 plausible landmarks of a 1024x1024 FFHQ image: the mean shape, moved and jittered."""
    rng = np.random.default_rng(seed)
    angle = rng.uniform(-0.1, 0.1)
    rotation = np.array([[np.cos(angle), np.sin(angle)], [-np.sin(angle), np.cos(angle)]])
    return (MEAN_SHAPE_68 * 640 @ rotation + rng.uniform(150, 250, 2) + rng.normal(0, 2, (68, 2))).round(1)


def test_ffhq_json_gives_the_official_numbers(tmp_path, capsys):
    faces = [_face_1024(seed) for seed in range(3)]
    metadata = {
        str(i): {
            'category': 'training',
            'image': {
                'file_path': f'images1024x1024/00000/{i:05d}.png',
                'pixel_size': [1024, 1024],
                'face_landmarks': face.tolist()
            },
            'in_the_wild': {
                'face_landmarks': (face * 3 + 100).tolist()
            },  # other coordinates: must not be used
        }
        for i, face in enumerate(faces)
    }
    (tmp_path / 'ffhq-dataset-v2.json').write_text(json.dumps(metadata))
    out = tmp_path / 'boxes.pth'
    images = _make_images(tmp_path / 'faces')  # only for --draw
    code, stdout, _ = _run([
        '--ffhq-json', tmp_path / 'ffhq-dataset-v2.json', '-o', out, '--images', images, '--draw', 1, '--draw-dir',
        tmp_path / 'drawn'
    ], capsys)
    assert code == 0 and '3 boxes written' in stdout and str(out) in stdout
    assert os.listdir(tmp_path / 'drawn') == ['a.png']

    boxes = load_component_boxes(out)
    assert list(boxes) == ['00000000', '00000001', '00000002']
    for key, face in zip(boxes, faces):
        lm = np.array(face) * 0.5  # the 512 frame; the floor of 16 applies after this scaling
        for part, idx in zip(COMPONENTS, (range(36, 42), range(42, 48), range(48, 68))):
            pts = lm[idx]
            want = (np.mean(pts, 0)[0], np.mean(pts, 0)[1], max((pts.max(0) - pts.min(0)).max() / 2, 16))
            assert boxes[key][part] == want


def _astronaut_aligned(size):
    """skimage's astronaut aligned like FFHQ (her face's landmarks warped onto the template), ``size`` square."""
    photo = cv2.cvtColor(skimage_data.astronaut(), cv2.COLOR_RGB2BGR)
    face, _ = align_face(photo, find_faces(photo)[0].landmarks, 512)
    return cv2.resize(face, (size, size), interpolation=cv2.INTER_AREA)


def _make_images(folder, size=128, img=None):
    """b.png, a.png, c.jpg (sorted: a, b, c): the astronaut aligned like FFHQ (or ``img``), plus a non-image file."""
    folder.mkdir()
    img = _astronaut_aligned(size) if img is None else img
    for name in ('b.png', 'a.png', 'c.jpg'):
        cv2.imwrite(str(folder / name), img)
    (folder / 'notes.txt').write_text('not an image')
    return folder


def test_template_mode_and_draw(tmp_path, capsys):
    images = _make_images(tmp_path / 'faces')
    out = tmp_path / 'boxes.pth'
    code, stdout, _ = _run(['--images', images, '--template', '-o', out, '--draw', 2, '--draw-dir', tmp_path / 'drawn'],
                           capsys)
    assert code == 0 and '3 images (template)' in stdout and '0 fell back' in stdout
    assert load_component_boxes(out) == {f'{i:08d}': ffhq_template_boxes() for i in range(3)}
    assert sorted(os.listdir(tmp_path / 'drawn')) == ['a.png', 'b.png']
    drawn, source = cv2.imread(str(tmp_path / 'drawn' / 'a.png')), cv2.imread(str(images / 'a.png'))
    assert drawn.shape == source.shape and (drawn != source).any()


def test_landmarks_json_mode(tmp_path, capsys):
    images = _make_images(tmp_path / 'faces')
    shape_512 = MEAN_SHAPE_68 * 330 + [90, 70]
    landmarks = {
        'a.png': (FFHQ_TEMPLATE_5 / 4).tolist(),  # 5 points in the 128-pixel image
        'b.png': (shape_512 / 4).tolist(),  # 68 points
    }
    (tmp_path / 'lm.json').write_text(json.dumps(landmarks))
    out = tmp_path / 'boxes.pth'
    code, stdout, stderr = _run(['--images', images, '--landmarks', tmp_path / 'lm.json', '-o', out], capsys)
    assert code == 0 and '1 fell back' in stdout and "'c.jpg' is not in the landmarks file" in stderr
    boxes = load_component_boxes(out)
    template, from_68 = ffhq_template_boxes(), boxes_from_landmarks68(shape_512)
    for part in COMPONENTS:
        assert boxes['00000000'][part] == pytest.approx(template[part], abs=1e-9)
        assert boxes['00000001'][part] == pytest.approx(from_68[part], abs=1e-9)
        assert boxes['00000002'][part] == template[part]

    (tmp_path / 'bad.json').write_text(json.dumps({'a.png': [[1, 2], [3, 4]]}))
    code, _, stderr = _run(['--images', images, '--landmarks', tmp_path / 'bad.json', '-o', tmp_path / 'x.pth'], capsys)
    assert code == 2 and "'a.png'" in stderr and '5 or 68' in stderr and 'Traceback' not in stderr
    assert not (tmp_path / 'x.pth').exists()


def test_detector_without_weights_is_a_clear_error(isolated_weights, capsys):
    images = _make_images(isolated_weights / 'faces')
    code, _, stderr = _run(['--images', images, '--detector', 'retinaface', '-o', 'boxes.pth'], capsys)
    assert code == 2 and 'Traceback' not in stderr
    assert 'detection_Resnet50_Final.pth' in stderr and 'https://github.com/xinntao/facexlib' in stderr
    assert not os.path.exists('boxes.pth') and not os.path.exists(isolated_weights / 'cache')

    code, stdout, _ = _run(['--images', images, '-o', 'boxes.pth'], capsys)  # auto: falls back to the template
    assert code == 0 and 'not found: using the FFHQ template' in stdout
    assert load_component_boxes('boxes.pth')['00000002'] == ffhq_template_boxes()


class _FakeRetinaFace:
    """detect_faces as facexlib returns it, rows [x1, y1, x2, y2, score, 5 x (x, y)], chosen per image size."""

    def __init__(self):
        self.calls = 0

    def detect_faces(self, img, conf_threshold):
        self.calls += 1
        five = FFHQ_TEMPLATE_5 * img.shape[0] / 512
        small = np.concatenate([[0, 0, 10, 10, 0.999], (five + 30).reshape(-1)])
        large = np.concatenate([[10, 10, 120, 120, 0.98], five.reshape(-1)])
        shifted = large + np.array([0] * 5 + [8, 0] * 5)
        return [np.stack([small, large]), np.zeros((0, 15)), shifted[None]][self.calls - 1]


def test_detector_mode_takes_the_largest_face_and_falls_back(tmp_path, capsys, monkeypatch):
    images = _make_images(tmp_path / 'faces')
    monkeypatch.setattr(component_extraction_cli, 'load_detector',
                        lambda weights, device, allow_download: _FakeRetinaFace())
    out = tmp_path / 'boxes.pth'
    code = component_extraction_cli.main(['--images', str(images), '--detector', 'retinaface', '-o', str(out)])
    stdout, stderr = capsys.readouterr()
    assert code == 0 and '1 fell back' in stdout and "no face found in 'b.png'" in stderr
    boxes, template = load_component_boxes(out), ffhq_template_boxes()
    for part in COMPONENTS:
        assert boxes['00000000'][part] == pytest.approx(template[part], abs=1e-9)  # the large face, not the small
        assert boxes['00000001'][part] == template[part]
        x, y, h = template[part]
        assert boxes['00000002'][part] == pytest.approx((x + 32, y, h), abs=1e-9)  # 8 px at 128 = 32 at 512


def test_refuses_to_overwrite_and_user_errors(tmp_path, capsys):
    images = _make_images(tmp_path / 'faces')
    (tmp_path / 'drawn').mkdir()
    out = tmp_path / 'boxes.pth'
    out.write_bytes(b'keep me')
    code, _, stderr = _run(['--images', images, '--template', '-o', out], capsys)
    assert code == 2 and '--force' in stderr and out.read_bytes() == b'keep me'
    assert _run(['--images', images, '--template', '-o', out, '--force'], capsys)[0] == 0
    assert len(load_component_boxes(out)) == 3

    for argv, message in [
        (['-o', tmp_path / 'y.pth'], '--ffhq-json FILE or --images FOLDER'),
        (['--images', images, '--template', '--draw', 1, '-o', tmp_path / 'y.pth'], '--draw-dir'),
        (['--images', tmp_path / 'nope', '-o', tmp_path / 'y.pth'], 'does not exist'),
        (['--images', tmp_path / 'drawn', '-o', tmp_path / 'y.pth'], 'holds no images'),
        (['--ffhq-json', tmp_path / 'nope.json', '-o', tmp_path / 'y.pth'], 'cannot read'),
    ]:
        code, _, stderr = _run(argv, capsys)
        assert code == 2 and message in stderr and 'Traceback' not in stderr


NOT_ALIGNED = "are not aligned like FFHQ; align them first (see datasets/README.md, 'Your own faces')"


@pytest.mark.parametrize('case', ['photo', 'shifted'])
def test_faces_not_aligned_like_ffhq_are_refused(tmp_path, capsys, case):
    if case == 'photo':  # the astronaut photo as it is: her face small, up and to the left
        img = cv2.cvtColor(skimage_data.astronaut(), cv2.COLOR_RGB2BGR)
    else:  # an aligned face moved by a quarter of the image
        img = np.roll(_astronaut_aligned(256), (64, 64), axis=(0, 1))
    images = _make_images(tmp_path / 'faces', img=img)
    out = tmp_path / 'boxes.pth'
    code, stdout, stderr = _run(['--images', images, '--template', '-o', out], capsys)
    message = stderr.strip().splitlines()[-1]
    assert code == 2 and 'Traceback' not in stderr and not out.exists()
    assert message.split('error: ', 1)[1].startswith(f"3 of the 3 faces checked in '{images}' {NOT_ALIGNED}")
    assert message.endswith('--skip-alignment-check if they are.')
    code, stdout, _ = _run(['--images', images, '--template', '-o', out, '--skip-alignment-check'], capsys)
    assert code == 0 and out.exists()


def test_landmarks_far_from_the_template_are_refused(tmp_path, capsys):
    images = _make_images(tmp_path / 'faces')
    off = (FFHQ_TEMPLATE_5 * 0.4 + [20, 10]) / 4  # a small face in the top left corner of the 128-pixel image
    (tmp_path / 'lm.json').write_text(json.dumps({name: off.tolist() for name in ('a.png', 'b.png', 'c.jpg')}))
    code, _, stderr = _run(['--images', images, '--landmarks', tmp_path / 'lm.json', '-o', tmp_path / 'b.pth'], capsys)
    assert code == 2 and NOT_ALIGNED in stderr and not (tmp_path / 'b.pth').exists()


def test_help_runs_as_a_program():
    result = subprocess.run([sys.executable, SCRIPT, '--help'], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    for flag in ('--ffhq-json', '--images', '--landmarks', '--detector', '--template', '--draw', '--force'):
        assert flag in result.stdout


def test_the_largest_face_is_chosen_by_its_box_as_detected():
    """A box reaching past the photo's edge counts whole (largest_unclipped_index), as the script always did."""

    class Detector:

        def detect_faces(self, img, conf_threshold):
            past_edge = np.concatenate([[-400, -400, 60, 60, 0.99], np.full(10, 1.0)])
            inside = np.concatenate([[10, 10, 120, 120, 0.98], np.full(10, 2.0)])
            return np.stack([inside, past_edge])

    points = component_extraction.detect_landmarks5(Detector(), np.zeros((128, 128, 3), np.uint8))
    assert (points == 1.0).all()
    assert largest_index(Detector().detect_faces(None, 0)[:, :4], 128, 128) == 0  # clipped, the other one wins
