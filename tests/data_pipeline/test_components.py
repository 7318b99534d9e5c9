"""gfpgan/data/components.py: safe loading, validation and saving of the release box-file layout (the box geometry
is gfpgan.faces': tests/faces/test_face_components.py), and the old names it keeps re-exporting."""
import copy
import os
import zipfile

import numpy as np
import pytest
import torch

import gfpgan.data.components as data_components
import gfpgan.faces.components as face_components
from gfpgan.data.components import COMPONENTS, RELEASE_URL, load_component_boxes, save_component_boxes


def test_the_geometry_keeps_its_old_import_path():
    for name in ('COMPONENTS', 'BOX_FRAME', 'boxes_from_ffhq_entry', 'boxes_from_landmarks5', 'boxes_from_landmarks68',
                 'landmarks68_from_landmarks5', 'ffhq_template_boxes', 'component_locations', 'draw_component_boxes'):
        assert getattr(data_components, name) is getattr(face_components, name)
    from gfpgan.data.components import FFHQ_TEMPLATE_5, MEAN_SHAPE_68, similarity_transform  # noqa: F401


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
