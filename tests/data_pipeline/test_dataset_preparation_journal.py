"""prepare_dataset's 5-point path, journal, workers and LMDB on made-up photos with known landmarks (no dlib): the
aligned eye markers land on the FFHQ template, a re-encoded copy is a near duplicate (across a resumed run too), a
run killed mid-way with a torn journal line and an orphan face resumes to the uninterrupted result, two workers
write what one writes, and the LMDB is read by FFHQDegradationDataset."""
import json
import shutil

import cv2
import numpy as np
import pytest

from gfpgan.data.components import load_component_boxes
from gfpgan.data.dataset_preparation import prepare_dataset, summary_counts
from gfpgan.faces.detectors import LandmarksDetector
from gfpgan.faces.ffhq_alignment import transform_points
from gfpgan.faces.templates import FFHQ_TEMPLATE_5

SIZE = 512
OPTIONS = dict(size=SIZE, min_face=16, min_quad_ratio=0.1, blur_threshold=0.0, save_seconds=0.0)
# the photos' face: the template turned by 15 degrees, scaled by 0.7 and moved
_TURN = np.array([[np.cos(0.26), -np.sin(0.26)], [np.sin(0.26), np.cos(0.26)]]) * 0.7
LANDMARKS = (FFHQ_TEMPLATE_5 - 256) @ _TURN.T + (300, 260)
RED, BLUE = (0, 0, 255), (255, 0, 0)  # BGR markers on the eyes


def _photo(seed):
    """A textured 600x520 photo whose eyes are a red and a blue disc at LANDMARKS."""
    rng = np.random.default_rng(seed)
    field = cv2.resize(rng.integers(70, 180, (8, 8, 3), dtype=np.uint8), (600, 520), interpolation=cv2.INTER_CUBIC)
    img = np.clip(field.astype(np.int16) + rng.integers(-20, 20, field.shape), 0, 255).astype(np.uint8)
    for point, colour in zip(LANDMARKS[:2], (RED, BLUE)):
        cv2.circle(img, tuple(int(round(v * 8)) for v in point), 6 * 8, colour, -1, cv2.LINE_AA, shift=3)
    return img


class StopAfter(LandmarksDetector):
    """Known landmarks, and a KeyboardInterrupt at the ``calls``-th photo (a run killed mid-way)."""

    def __init__(self, landmarks, calls):
        super().__init__(landmarks)
        self.calls = calls

    def detect(self, img):
        self.calls -= 1
        if self.calls == 0:
            raise KeyboardInterrupt
        return super().detect(img)


def _outcome(out):
    """What a run leaves: face records, sources, every file's bytes but the journal's and the LMDB's."""
    manifest = json.loads((out / 'manifest.json').read_text())
    files = {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob('*'))
             if p.is_file() and p.suffix in ('.png', '.txt') and 'lmdb' not in p.parts[-2]}
    return manifest['faces'], manifest['sources'], files, load_component_boxes(out / 'components.pth')


@pytest.fixture(scope='module')
def photos(tmp_path_factory):
    src = tmp_path_factory.mktemp('photos')
    for i in range(3):
        cv2.imwrite(str(src / f'p{i}.png'), _photo(i))
    cv2.imwrite(str(src / 'p3_copy.jpg'), _photo(1), [cv2.IMWRITE_JPEG_QUALITY, 70])  # p1 again, as a JPEG
    cv2.imwrite(str(src / 'p4.png'), _photo(4))
    (src / 'p5_broken.jpg').write_bytes(b'not an image')
    out = tmp_path_factory.mktemp('reference') / 'set'
    manifest = prepare_dataset(str(src), str(out), LandmarksDetector(LANDMARKS), progress=False, workers=1, lmdb=True,
                               **OPTIONS)
    return src, out, manifest


def test_near_duplicates_and_unreadable_files_are_reported(photos):
    _, out, manifest = photos
    faces = {f['source']: f for f in manifest['faces']}
    assert [faces[f'p{i}.png']['name'] for i in (0, 1, 2, 4)] == [f'0000000{i}.png' for i in range(4)]
    copy = faces['p3_copy.jpg']
    assert copy['reason'] == 'near duplicate of 00000001.png' and copy['hash_distance'] <= 8
    assert faces['p5_broken.jpg']['reason'] == 'unreadable'
    assert summary_counts(manifest) == {'kept': 4, 'unreadable': 1, 'near duplicate': 1}
    assert all(len(f['landmarks5']) == 5 and np.asarray(f['matrix']).shape == (3, 3) for f in faces.values()
               if f['face'] is not None)


def test_the_5_point_path_puts_the_eyes_on_the_template(photos):
    _, out, manifest = photos
    face = manifest['faces'][0]
    template = FFHQ_TEMPLATE_5 * (SIZE / 512)
    moved = transform_points(np.asarray(face['matrix']), np.asarray(face['landmarks5']))
    assert np.abs(moved - template).max() < 0.01
    aligned = cv2.imread(str(out / 'images' / face['name'])).astype(np.int16)
    for point, channel in zip(template[:2], (2, 0)):  # red disc on the left eye, blue on the right
        others = [c for c in range(3) if c != channel]
        mask = (aligned[..., channel] > 220) & (aligned[..., others].max(-1) < 50)  # none in the texture
        ys, xs = np.nonzero(mask)
        assert len(xs) > 100 and np.hypot(xs.mean() - point[0], ys.mean() - point[1]) < 1.0
    boxes = load_component_boxes(out / 'components.pth')['00000000']
    for part, point in zip(('left_eye', 'right_eye'), FFHQ_TEMPLATE_5[:2]):  # in 512-pixel box coordinates
        assert np.hypot(boxes[part][0] - point[0], boxes[part][1] - point[1]) < 3


def test_a_killed_run_resumes_to_the_uninterrupted_result(photos, tmp_path):
    src, reference, _ = photos
    out = tmp_path / 'set'
    with pytest.raises(KeyboardInterrupt):
        prepare_dataset(str(src), str(out), StopAfter(LANDMARKS, 3), progress=False, workers=1, **OPTIONS)
    journal = out / 'manifest.jsonl'
    assert json.loads((out / 'manifest.json').read_text())['sources'] == ['p0.png', 'p1.png']
    with open(journal, 'ab') as f:  # the kill tore the third photo's record; its face was already written
        f.write(b'{"source":"p2.png","face":0,"score":1.0,"bo')
    (out / 'images' / '00000002.png').write_bytes(b'half a png')
    manifest = prepare_dataset(str(src), str(out), LandmarksDetector(LANDMARKS), progress=False, workers=1,
                               **OPTIONS)
    assert manifest['skipped_as_done'] == 2
    assert _outcome(out) == _outcome(reference)
    assert all(line.endswith('}') for line in journal.read_text().splitlines())
    again = prepare_dataset(str(src), str(out), LandmarksDetector(LANDMARKS), progress=False, **OPTIONS)
    assert again['skipped_as_done'] == 6 and _outcome(out) == _outcome(reference)


def test_two_workers_write_what_one_writes(photos, tmp_path):
    src, reference, _ = photos
    out = tmp_path / 'set'
    prepare_dataset(str(src), str(out), LandmarksDetector(LANDMARKS), progress=False, workers=2, **OPTIONS)
    assert _outcome(out) == _outcome(reference)


def test_an_unpicklable_detector_runs_in_this_process(photos, tmp_path):
    class Local(LandmarksDetector):  # a class inside a function cannot be pickled
        pass

    with pytest.raises(ValueError, match='cannot be sent to worker processes'):
        prepare_dataset(str(photos[0]), str(tmp_path / 'set'), Local(LANDMARKS), progress=False, workers=2)
    assert not (tmp_path / 'set').exists()
    # with the number of workers left to the default, such a detector works in this process
    manifest = prepare_dataset(str(photos[0]), str(tmp_path / 'set'), Local(LANDMARKS), progress=False, **OPTIONS)
    assert summary_counts(manifest)['kept'] == 4


def test_the_lmdb_is_read_by_the_training_dataset(photos, tmp_path):
    pytest.importorskip('lmdb')
    from gfpgan.data.ffhq_degradation_dataset import FFHQDegradationDataset
    _, out, _ = photos
    copy = tmp_path / 'images.lmdb'
    shutil.copytree(out / 'images.lmdb', copy)  # the dataset may be pointed anywhere
    ds = FFHQDegradationDataset(
        dict(dataroot_gt=str(copy), io_backend={'type': 'lmdb'}, out_size=SIZE, use_hflip=False,
             crop_components=True, component_path=str(out / 'components.pth'), mean=[0.5] * 3, std=[0.5] * 3))
    assert len(ds) == 4
    sample = ds[3]
    assert tuple(sample['gt'].shape) == (3, SIZE, SIZE) and 'loc_left_eye' in sample
    disk = cv2.imread(str(out / 'images' / '00000003.png'))[..., ::-1].astype(np.float32) / 255
    assert np.abs(sample['gt'].permute(1, 2, 0).numpy() * 0.5 + 0.5 - disk).max() < 1e-5


def test_the_command_checks_every_option_before_any_work(photos, tmp_path, monkeypatch, capsys):
    from gfpgan.data.dataset_preparation_cli import main
    from gfpgan.errors import run_cli
    monkeypatch.setattr('gfpgan.utils.weights.default_search_dirs', lambda: [str(tmp_path)])  # no weights anywhere
    src, out = str(photos[0]), tmp_path / 'set'
    assert run_cli(main, [src, str(out), '--detector', 'yunet', '--max-yaw', '0', '--near-duplicate', '65',
                          '--workers', '0', '--grayscale-threshold', '-1']) == 2
    err = capsys.readouterr().err
    for words in ('--max-yaw: 0', '--near-duplicate: 65', '--workers: 0', '--grayscale-threshold: -1',
                  'face_detection_yunet_2023mar.onnx', 'download_pretrained.py'):
        assert words in err
    assert 'Traceback' not in err and not out.exists()
    assert run_cli(main, [src, str(out), '--detector', 'retinaface_resnet50', '--detector-weights',
                          str(tmp_path / 'missing.pth')]) == 2
    assert "--detector-weights: '" in capsys.readouterr().err and not out.exists()


def test_a_folder_without_photos_is_one_sentence(tmp_path, capsys):
    from gfpgan.data.dataset_preparation_cli import main
    from gfpgan.errors import run_cli
    (tmp_path / 'empty' / 'sub').mkdir(parents=True)
    (tmp_path / 'empty' / 'notes.txt').write_text('no photo here')
    assert run_cli(main, [str(tmp_path / 'empty'), str(tmp_path / 'out')]) == 2
    err = capsys.readouterr().err
    assert 'input:' in err and 'Traceback' not in err and not (tmp_path / 'out').exists()


def test_a_second_run_into_the_same_folder_at_once_is_refused(tmp_path):
    from gfpgan.data.dataset_preparation_journal import output_lock
    pytest.importorskip('fcntl')
    (tmp_path / 'photos').mkdir()
    cv2.imwrite(str(tmp_path / 'photos' / 'a.png'), np.zeros((64, 64, 3), np.uint8))
    out = tmp_path / 'out'
    out.mkdir()
    run = dict(detector=LandmarksDetector([]), progress=False, workers=1)
    with output_lock(str(out)):  # another run holds the folder
        with pytest.raises(ValueError, match='is being prepared by another run right now'):
            prepare_dataset(str(tmp_path / 'photos'), str(out), **run)
        assert not (out / 'manifest.jsonl').exists()
    manifest = prepare_dataset(str(tmp_path / 'photos'), str(out), **run)
    assert [f['reason'] for f in manifest['faces']] == ['no face']
