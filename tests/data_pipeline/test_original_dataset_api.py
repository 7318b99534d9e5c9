"""FFHQDegradationDataset keeps the original's (gfpgan 1.3.8) attributes and helpers, and PairedImageDataset
outside training cuts gt to lq * scale as BasicSR does."""
import cv2
import numpy as np
import pytest
import torch

from test_datasets import BOXES, face_bgr

from gfpgan.data import FFHQDegradationDataset, PairedImageDataset
from gfpgan.data.components import save_component_boxes
from gfpgan.data.lmdb_util import create_lmdb

SIZE = 64


@pytest.fixture(scope='module')
def faces(tmp_path_factory):
    """Three 64x64 faces and component boxes (512 frame) for them."""
    root = tmp_path_factory.mktemp('faces')
    folder = root / 'gt'
    folder.mkdir()
    for i in range(3):
        cv2.imwrite(str(folder / f'{i:05d}.png'), face_bgr(SIZE, i))
    save_component_boxes({f'{i:08d}': {p: [v + 8 * i for v in b] for p, b in BOXES.items()} for i in range(3)},
                         root / 'boxes.pth')
    return root


def options(faces, **changes):
    opt = dict(
        dataroot_gt=str(faces / 'gt'),
        io_backend={'type': 'disk'},
        mean=[0.5, 0.5, 0.5],
        std=[0.5, 0.5, 0.5],
        out_size=SIZE,
        use_hflip=True,
        blur_kernel_size=41,
        kernel_list=['iso', 'aniso'],
        kernel_prob=[0.5, 0.5],
        blur_sigma=[0.1, 10],
        downsample_range=[0.8, 8],
        noise_range=[0, 20],
        jpeg_range=[60, 100],
        color_jitter_prob=0.3,
        color_jitter_shift=20,
        color_jitter_pt_prob=0.3,
        gray_prob=0.01,
        crop_components=True,
        component_path=str(faces / 'boxes.pth'),
        eye_enlarge_ratio=1.4)
    opt.update(changes)
    return opt


def test_the_original_attributes(faces):
    opt = options(faces)
    ds = FFHQDegradationDataset(opt)
    assert ds.opt is opt and ds.gt_folder == opt['dataroot_gt'] and ds.io_backend_opt == {'type': 'disk'}
    assert ds.file_client is not None and len(ds.paths) == 3 and ds.paths[1].endswith('00001.png')
    assert ds.file_client.get(ds.paths[1]) == (faces / 'gt' / '00001.png').read_bytes()
    assert (ds.mean, ds.std, ds.out_size) == ([0.5] * 3, [0.5] * 3, SIZE)
    assert ds.blur_kernel_size == 41 and ds.kernel_list == ['iso', 'aniso'] and ds.kernel_prob == [0.5, 0.5]
    assert ds.blur_sigma == [0.1, 10] and ds.downsample_range == [0.8, 8] and ds.noise_range == [0, 20]
    assert ds.jpeg_range == [60, 100] and ds.color_jitter_prob == 0.3 and ds.color_jitter_pt_prob == 0.3
    assert ds.color_jitter_shift == pytest.approx(20 / 255) and ds.gray_prob == 0.01
    assert ds.crop_components is True and ds.eye_enlarge_ratio == 1.4
    assert set(ds.components_list) == {'00000000', '00000001', '00000002'}
    assert list(ds.components_list['00000001']['mouth']) == [v + 8 for v in BOXES['mouth']]


def test_lmdb_backend_attributes_and_a_folder_that_is_not_an_lmdb(faces, tmp_path):
    db = tmp_path / 'gt.lmdb'
    create_lmdb(str(faces / 'gt'), str(db), progress=False)
    ds = FFHQDegradationDataset(options(faces, dataroot_gt=str(db), io_backend={'type': 'lmdb'}))
    assert ds.io_backend_opt == {'type': 'lmdb', 'db_paths': str(db)} and ds.paths == ['00000', '00001', '00002']
    stored = cv2.imdecode(np.frombuffer(ds.file_client.get('00002'), np.uint8), cv2.IMREAD_COLOR)
    np.testing.assert_array_equal(stored, face_bgr(SIZE, 2))  # the encoded image under its key
    for not_lmdb in (str(faces / 'gt'), str(tmp_path / 'missing.lmdb')):
        with pytest.raises(ValueError, match='LMDB'):
            FFHQDegradationDataset(options(faces, dataroot_gt=not_lmdb, io_backend={'type': 'lmdb'}))
    with pytest.raises(FileNotFoundError):  # still the error it was
        FFHQDegradationDataset(options(faces, dataroot_gt=str(faces / 'gt'), io_backend={'type': 'lmdb'}))


def test_get_component_coordinates_as_the_original(faces):
    ds = FFHQDegradationDataset(options(faces, out_size=512))
    locations = ds.get_component_coordinates(1, [False, False, False])
    assert isinstance(locations, list) and len(locations) == 3
    assert all(loc.shape == (4, ) and loc.dtype == torch.float32 for loc in locations)
    x, y, h = (v + 8 for v in BOXES['left_eye'])
    h *= 1.4  # eyes enlarged, not the mouth
    torch.testing.assert_close(locations[0], torch.tensor([x - h + 1, y - h + 1, x + h, y + h]))
    x, y, h = (v + 8 for v in BOXES['mouth'])
    torch.testing.assert_close(locations[2], torch.tensor([x - h + 1, y - h + 1, x + h, y + h]))
    flipped = ds.get_component_coordinates(1, [True, False, False])
    x, y, h = (v + 8 for v in BOXES['right_eye'])  # the right eye, mirrored, becomes the left one
    h *= 1.4
    torch.testing.assert_close(flipped[0], torch.tensor([512 - x - h + 1, y - h + 1, 512 - x + h, y + h]))
    torch.testing.assert_close(ds.get_component_coordinates(1, [False, False, False])[0], locations[0])  # unchanged


def test_samples_take_their_boxes_from_get_component_coordinates(faces):

    class Fixed(FFHQDegradationDataset):

        def get_component_coordinates(self, index, status):
            return [torch.tensor([1., 2., 3., 4.]) * (index + 1)] * 3

    ds = Fixed(options(faces))
    ds.seed(0)
    sample = ds[2]
    for part in ('left_eye', 'right_eye', 'mouth'):
        torch.testing.assert_close(sample[f'loc_{part}'], torch.tensor([3., 6., 9., 12.]))


def test_color_jitter_helpers():
    img = np.full((4, 4, 3), 0.5, np.float32)
    np.random.seed(0)
    out = FFHQDegradationDataset.color_jitter(img, 20 / 255)
    np.random.seed(0)
    shift = np.random.uniform(-20 / 255, 20 / 255, 3).astype(np.float32)
    np.testing.assert_allclose(out, np.clip(img + shift, 0, 1))
    assert out.dtype == np.float32 and np.all(out[0, 0] == out[3, 3])
    assert FFHQDegradationDataset.color_jitter(np.ones((2, 2, 3), np.float32), 0.5).max() <= 1

    tensor = torch.rand(3, 8, 8)
    torch.manual_seed(0)
    jittered = FFHQDegradationDataset.color_jitter_pt(tensor, (0.5, 1.5), (0.5, 1.5), (0, 1.5), (-0.1, 0.1))
    assert jittered.shape == (3, 8, 8) and 0 <= jittered.min() and jittered.max() <= 1
    assert not torch.equal(jittered, tensor)
    torch.manual_seed(0)
    again = FFHQDegradationDataset.color_jitter_pt(tensor, (0.5, 1.5), (0.5, 1.5), (0, 1.5), (-0.1, 0.1))
    torch.testing.assert_close(again, jittered)  # drawn from torch's generator, as the original
    # brightness only, factor drawn after the order: img * factor
    torch.manual_seed(1)
    torch.randperm(4)
    factor = torch.tensor(1.0).uniform_(0.5, 0.6).item()
    torch.manual_seed(1)
    torch.testing.assert_close(
        FFHQDegradationDataset.color_jitter_pt(tensor, (0.5, 0.6), None, None, None), (tensor * factor).clamp(0, 1))
    ds_method = FFHQDegradationDataset.__dict__['color_jitter_pt']
    assert isinstance(ds_method, staticmethod)


def test_paired_dataset_outside_training_cuts_gt_to_lq_times_scale(tmp_path):
    lq, gt = tmp_path / 'lq', tmp_path / 'gt'
    lq.mkdir()
    gt.mkdir()
    cv2.imwrite(str(lq / 'a.png'), face_bgr(32, 0))
    cv2.imwrite(str(gt / 'a.png'), face_bgr(70, 0)[:66])  # 66 x 70, bigger than 2 * 32
    cv2.imwrite(str(lq / 'b.png'), face_bgr(32, 1))
    cv2.imwrite(str(gt / 'b.png'), face_bgr(60, 1))  # smaller than 2 * 32: kept as it is, as BasicSR
    ds = PairedImageDataset(
        dict(dataroot_lq=str(lq), dataroot_gt=str(gt), io_backend={'type': 'disk'}, scale=2, phase='val'))
    a, b = ds[0], ds[1]
    assert a['lq'].shape == (3, 32, 32) and a['gt'].shape == (3, 64, 64)
    expected = face_bgr(70, 0)[:64, :64, ::-1].astype(np.float32) / 255
    np.testing.assert_allclose(a['gt'].permute(1, 2, 0).numpy(), expected, atol=1e-6)
    assert b['gt'].shape == (3, 60, 60)
    train = PairedImageDataset(
        dict(dataroot_lq=str(lq), dataroot_gt=str(gt), io_backend={'type': 'disk'}, scale=2, phase='train',
             gt_size=32, max_bad_fraction=0))
    with pytest.raises(ValueError, match='smaller than 2 times its input'):
        train.load(1)
