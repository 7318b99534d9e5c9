"""FFHQDegradationDataset, PairedImageDataset and SingleImageDataset on images made here (folders and LMDB)."""
import copy
import json
import logging
import os

import cv2
import numpy as np
import pytest
import torch
import yaml
from skimage import data as skdata

from gfpgan.data import FFHQDegradationDataset, PairedImageDataset, SingleImageDataset, build_dataset
from gfpgan.data.components import component_locations, save_component_boxes
from gfpgan.data.image_dataset import BadDataError
from gfpgan.data.lmdb_util import create_lmdb

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BOXES = {'left_eye': [200.0, 240.0, 20.0], 'right_eye': [310.0, 242.0, 22.0], 'mouth': [256.0, 370.0, 40.0]}


def face_bgr(size, seed=0):
    """The astronaut photo resized to ``size``, slightly altered per seed so images differ: uint8 BGR."""
    img = cv2.resize(skdata.astronaut(), (size, size), interpolation=cv2.INTER_AREA)[:, :, ::-1]
    return np.ascontiguousarray(np.roll(img, seed * 7, axis=1))


@pytest.fixture(scope='module')
def faces(tmp_path_factory):
    """Four 512x512 face images and a component-box file keyed to them."""
    root = tmp_path_factory.mktemp('ffhq')
    folder = root / 'ffhq_512'
    folder.mkdir()
    for i in range(4):
        cv2.imwrite(str(folder / f'{i:05d}.png'), face_bgr(512, i))
    boxes = {f'{i:08d}': {part: [v + i for v in box] for part, box in BOXES.items()} for i in range(4)}
    save_component_boxes(boxes, root / 'boxes.pth')
    return root


def official_train_options(faces, **changes):
    """datasets.train of options/train_gfpgan_v1.yml, unchanged apart from the paths (and ``changes``)."""
    with open(os.path.join(ROOT, 'options', 'train_gfpgan_v1.yml')) as f:
        opt = yaml.safe_load(f)['datasets']['train']
    opt = copy.deepcopy(opt)
    opt.update(dataroot_gt=str(faces / 'ffhq_512'), component_path=str(faces / 'boxes.pth'), phase='train')
    opt.update(changes)
    return opt


def as_image(tensor):
    """(3, H, W) tensor in [-1, 1] -> (H, W, 3) float in [0, 1]."""
    return tensor.permute(1, 2, 0).numpy() * 0.5 + 0.5


def gt_rgb(faces, index):
    return cv2.imread(str(faces / 'ffhq_512' / f'{index:05d}.png'))[:, :, ::-1].astype(np.float32) / 255


# ------------------------------------------------------------------------------------------ FFHQDegradationDataset
def test_official_yaml_block_builds_and_samples(faces):
    ds = build_dataset(official_train_options(faces))
    assert isinstance(ds, FFHQDegradationDataset) and len(ds) == 4
    ds.seed(0)
    sample = ds[1]
    assert set(sample) == {'lq', 'gt', 'gt_path', 'loc_left_eye', 'loc_right_eye', 'loc_mouth', 'num_skipped'}
    assert sample['num_skipped'] == 0
    for key in ('lq', 'gt'):
        assert sample[key].shape == (3, 512, 512) and sample[key].dtype == torch.float32
        assert sample[key].is_contiguous() and -1 <= sample[key].min() and sample[key].max() <= 1
    levels = (sample['lq'] * 0.5 + 0.5) * 255
    torch.testing.assert_close(levels, levels.round(), atol=1e-4, rtol=0)  # lq rounded to 8 bits
    assert sample['gt_path'].endswith('00001.png')
    assert sample['loc_mouth'].shape == (4, ) and sample['loc_mouth'].dtype == torch.float32
    gt = gt_rgb(faces, 1)
    got = as_image(sample['gt'])
    assert np.allclose(got, gt, atol=1e-6) or np.allclose(got, gt[:, ::-1], atol=1e-6)
    assert np.abs(as_image(sample['lq']) - got).mean() > 0.005  # degraded


def test_hflip_mirrors_image_and_boxes_without_touching_the_cache(faces):
    ds = build_dataset(official_train_options(faces, eye_enlarge_ratio=1))
    cached = copy.deepcopy(ds.components)
    seen = {False: None, True: None}
    for seed in range(40):
        ds.seed(seed)
        s = ds[2]
        flipped = not np.allclose(as_image(s['gt']), gt_rgb(faces, 2), atol=1e-6)
        locs = torch.stack([s['loc_left_eye'], s['loc_right_eye'], s['loc_mouth']])
        if seen[flipped] is None:
            seen[flipped] = locs
        torch.testing.assert_close(locs, seen[flipped])  # the same boxes every time for the same flip
    assert ds.components == cached
    plain, mirrored = seen[False], seen[True]
    assert plain is not None and mirrored is not None
    expected = torch.stack(component_locations(cached['00000002'], 512))
    torch.testing.assert_close(plain, expected)
    # flipped: the eyes swap, x -> 512 - x, and the original's [x - h + 1, x + h] convention
    box = BOXES['right_eye'][0] + 2, BOXES['right_eye'][2] + 2
    assert mirrored[0, 0].item() == pytest.approx(512 - box[0] - box[1] + 1)
    assert mirrored[0, 2].item() == pytest.approx(512 - box[0] + box[1])


def test_any_out_size_resizes_images_and_scales_boxes(faces):
    big = build_dataset(official_train_options(faces, use_hflip=False))
    small = build_dataset(official_train_options(faces, out_size=256, use_hflip=False))
    small.seed(0)
    s = small[0]
    assert s['gt'].shape == (3, 256, 256) and s['lq'].shape == (3, 256, 256)
    big.seed(0)
    b = big[0]
    for part in ('loc_left_eye', 'loc_right_eye', 'loc_mouth'):
        centre_small = (s[part][:2] + s[part][2:]) / 2
        centre_big = (b[part][:2] + b[part][2:]) / 2
        torch.testing.assert_close(centre_small, centre_big / 2, atol=0.5, rtol=0)
        assert (s[part][2:] - s[part][:2]).min() > 0


def test_degradations_can_be_switched_off(faces):
    opt = official_train_options(
        faces,
        use_hflip=False,
        blur_kernel_size=1,
        downsample_range=[1, 1],
        noise_range=None,
        jpeg_range=None,
        color_jitter_prob=None,
        color_jitter_pt_prob=None,
        gray_prob=None,
        crop_components=False)
    ds = build_dataset(opt)
    s = ds[3]
    assert set(s) == {'lq', 'gt', 'gt_path', 'num_skipped'}
    np.testing.assert_allclose(as_image(s['lq']), gt_rgb(faces, 3), atol=1e-6)
    np.testing.assert_allclose(as_image(s['gt']), gt_rgb(faces, 3), atol=1e-6)


def test_gray_and_gt_gray(faces):
    ds = build_dataset(official_train_options(faces, gray_prob=1, gt_gray=True, color_jitter_pt_prob=None))
    s = ds[0]
    for key in ('lq', 'gt'):
        torch.testing.assert_close(s[key][0], s[key][2])
    keep = build_dataset(official_train_options(faces, gray_prob=1, gt_gray=False, color_jitter_pt_prob=None))[0]
    torch.testing.assert_close(keep['lq'][0], keep['lq'][1])
    assert not torch.allclose(keep['gt'][0], keep['gt'][2])


def test_samples_are_reproducible_from_the_seed(faces):
    ds = build_dataset(official_train_options(faces))
    ds.seed(7)
    a = [ds[i]['lq'] for i in range(3)]
    ds.seed(7)
    b = [ds[i]['lq'] for i in range(3)]
    for x, y in zip(a, b):
        torch.testing.assert_close(x, y, rtol=0, atol=0)
    assert not torch.equal(ds[0]['lq'], ds[0]['lq'])  # the stream moves on


def test_lmdb_gives_the_same_images_as_the_folder(faces, tmp_path):
    db = tmp_path / 'ffhq_512.lmdb'
    create_lmdb(str(faces / 'ffhq_512'), str(db), progress=False)
    disk = build_dataset(official_train_options(faces, use_hflip=False))
    lmdb = build_dataset(
        official_train_options(faces, use_hflip=False, dataroot_gt=str(db), io_backend={'type': 'lmdb'}))
    assert len(lmdb) == len(disk)
    for ds in (disk, lmdb):
        ds.seed(3)
    a, b = disk[2], lmdb[2]
    assert b['gt_path'] == '00002'
    for key in ('gt', 'lq', 'loc_mouth'):
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=0)


def test_construction_errors_are_one_clear_sentence(faces, tmp_path):
    with pytest.raises(FileNotFoundError, match='dataroot_gt'):
        build_dataset(official_train_options(faces, dataroot_gt=str(tmp_path / 'nowhere')))
    with pytest.raises(FileNotFoundError, match='component_path'):
        build_dataset(official_train_options(faces, component_path=str(tmp_path / 'missing.pth')))
    create_lmdb(str(faces / 'ffhq_512'), str(tmp_path / 'no_meta.lmdb'), progress=False)
    os.remove(tmp_path / 'no_meta.lmdb' / 'meta_info.txt')
    with pytest.raises(FileNotFoundError, match='meta_info'):
        build_dataset(
            official_train_options(faces, dataroot_gt=str(tmp_path / 'no_meta.lmdb'), io_backend={'type': 'lmdb'}))
    with pytest.raises(ValueError, match="no option 'blur_sigm'"):
        build_dataset(official_train_options(faces, blur_sigm=[1, 2]))
    with pytest.raises(ValueError, match='out_size'):
        build_dataset(official_train_options(faces, out_size=None))
    with pytest.raises(ValueError, match='kernel_list'):
        build_dataset(official_train_options(faces, kernel_list=['box']))
    with pytest.raises(ValueError, match="'downsample_range' must be"):
        build_dataset(official_train_options(faces, downsample_range=[8, 0.8]))
    with pytest.raises(ValueError, match="'jpeg_range' must be"):
        build_dataset(official_train_options(faces, jpeg_range=[60, 120]))
    with pytest.raises(ValueError, match="'hue' must be"):
        build_dataset(official_train_options(faces, hue=[-0.8, 0.1]))
    with pytest.raises(ValueError, match="'gray_prob' must be a probability"):
        build_dataset(official_train_options(faces, gray_prob=1.5))
    with pytest.raises(ValueError, match="'out_size' must be a positive integer"):
        build_dataset(official_train_options(faces, out_size='512'))
    save_component_boxes({'00000000': BOXES}, tmp_path / 'few.pth')
    with pytest.raises(ValueError, match="no entry '00000001'.*extract_components"):
        build_dataset(official_train_options(faces, component_path=str(tmp_path / 'few.pth')))
    with pytest.raises(KeyError, match='FFHQDegradationDatasetX'):
        build_dataset(official_train_options(faces, type='FFHQDegradationDatasetX'))


# ------------------------------------------------------------------------------------------ bad files
@pytest.fixture
def damaged(tmp_path):
    """20 good 64x64 images and three bad ones: zero bytes, a truncated PNG, a text file named .jpg."""
    folder = tmp_path / 'faces'
    folder.mkdir()
    for i in range(20):
        cv2.imwrite(str(folder / f'{i:03d}.png'), face_bgr(64, i))
    (folder / '005b.png').write_bytes(b'')
    good = (folder / '000.png').read_bytes()
    (folder / '006b.png').write_bytes(good[:len(good) // 2])
    (folder / '007b.jpg').write_text('not an image')
    return folder


def small_options(folder, **changes):
    opt = dict(
        type='FFHQDegradationDataset',
        dataroot_gt=str(folder),
        io_backend={'type': 'disk'},
        out_size=64,
        mean=[0.5] * 3,
        std=[0.5] * 3,
        phase='train')
    opt.update(changes)
    return opt


def test_bad_files_are_logged_once_replaced_and_counted(damaged):
    ds = build_dataset(small_options(damaged, max_bad_fraction=0.2))
    assert len(ds) == 23
    bad = [i for i, p in enumerate(ds.paths) if 'b.' in os.path.basename(p)]
    assert len(bad) == 3
    records = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = records.append  # the project's logger may not propagate to pytest's caplog
    logging.getLogger('gfpgan').addHandler(handler)
    try:
        for _ in range(2):
            for i in bad:
                s = ds[i]
                assert s['gt'].shape == (3, 64, 64)
                assert 'b.' not in os.path.basename(s['gt_path'])
                assert s['num_skipped'] >= 1
    finally:
        logging.getLogger('gfpgan').removeHandler(handler)
    assert ds.num_skipped >= 6 and sorted(ds.bad_files) == bad  # a replacement may itself be a not-yet-known bad file
    warnings = [r.getMessage() for r in records if 'Skipping' in r.getMessage()]
    assert len(warnings) == 3  # once per file
    for name in ('005b.png', '006b.png', '007b.jpg'):
        assert sum(name in w for w in warnings) == 1


def test_too_many_bad_files_stop_with_a_clear_error(damaged):
    ds = build_dataset(small_options(damaged, max_bad_fraction=0.1, max_bad_files=0))  # 2 of 23 allowed
    bad = [i for i, p in enumerate(ds.paths) if 'b.' in os.path.basename(p)]
    with pytest.raises(BadDataError, match='3 of 23 training images could not be read.*max_bad_fraction'):
        for i in bad:  # a replacement may be the next bad file: the error may come before the last one is asked
            ds[i]
    with pytest.raises(ValueError, match='max_bad_fraction must be a number in'):
        build_dataset(small_options(damaged, max_bad_fraction=1))
    with pytest.raises(ValueError, match='max_bad_files must be an integer >= 0'):
        build_dataset(small_options(damaged, max_bad_files=-1))


def test_validation_datasets_do_not_hide_bad_files(damaged, tmp_path):
    ds = SingleImageDataset({'dataroot_lq': str(damaged), 'io_backend': {'type': 'disk'}})
    bad = [i for i, p in enumerate(ds.source.keys) if p.endswith('005b.png')][0]
    with pytest.raises(ValueError, match='005b.png.*empty'):
        ds[bad]


# ------------------------------------------------------------------------------------------ paired / single
@pytest.fixture
def pairs(tmp_path):
    lq, gt = tmp_path / 'input', tmp_path / 'reference'
    lq.mkdir()
    gt.mkdir()
    for i in range(3):
        cv2.imwrite(str(gt / f'face{i}.png'), face_bgr(64, i))
        cv2.imwrite(str(lq / f'face{i}_lq.jpg'), cv2.GaussianBlur(face_bgr(64, i), (5, 5), 2))
    return lq, gt


def test_paired_dataset_by_name_template(pairs):
    lq, gt = pairs
    opt = dict(
        type='PairedImageDataset',
        dataroot_lq=str(lq),
        dataroot_gt=str(gt),
        io_backend={'type': 'disk'},
        filename_tmpl='{}_lq',
        mean=[0.5] * 3,
        std=[0.5] * 3,
        scale=1,
        phase='val')
    ds = build_dataset(opt)
    assert isinstance(ds, PairedImageDataset) and len(ds) == 3
    s = ds[1]
    assert s['lq_path'].endswith('face1_lq.jpg') and s['gt_path'].endswith('face1.png')
    np.testing.assert_allclose(as_image(s['gt']), face_bgr(64, 1)[:, :, ::-1] / 255., atol=1e-6)
    assert s['lq'].shape == s['gt'].shape == (3, 64, 64)
    with pytest.raises(ValueError, match="no input named 'face0'.*filename_tmpl"):
        build_dataset(dict(opt, filename_tmpl='{}'))


def test_paired_dataset_training_crops(pairs):
    lq, gt = pairs
    ds = build_dataset(
        dict(
            type='PairedImageDataset',
            dataroot_lq=str(lq),
            dataroot_gt=str(gt),
            io_backend={'type': 'disk'},
            filename_tmpl='{}_lq',
            gt_size=32,
            use_hflip=True,
            use_rot=True,
            phase='train'))
    ds.seed(0)
    s = ds[0]
    assert s['lq'].shape == s['gt'].shape == (3, 32, 32)
    assert 0 <= s['gt'].min() and s['gt'].max() <= 1  # no mean / std: [0, 1]
    with pytest.raises(ValueError, match='gt_size'):
        build_dataset(
            dict(
                type='PairedImageDataset',
                dataroot_lq=str(lq),
                dataroot_gt=str(gt),
                io_backend={'type': 'disk'},
                phase='train'))


def test_paired_dataset_from_lmdbs(pairs, tmp_path):
    lq, gt = pairs
    create_lmdb(str(lq), str(tmp_path / 'lq.lmdb'), progress=False)
    create_lmdb(str(gt), str(tmp_path / 'gt.lmdb'), progress=False)
    ds = build_dataset(
        dict(
            type='PairedImageDataset',
            dataroot_lq=str(tmp_path / 'lq.lmdb'),
            dataroot_gt=str(tmp_path / 'gt.lmdb'),
            io_backend={'type': 'lmdb'},
            filename_tmpl='{}_lq'))
    s = ds[2]
    assert (s['lq_path'], s['gt_path']) == ('face2_lq', 'face2')
    np.testing.assert_allclose(s['gt'].permute(1, 2, 0).numpy(), face_bgr(64, 2)[:, :, ::-1] / 255., atol=1e-6)


def test_single_image_dataset(pairs):
    lq, _ = pairs
    ds = build_dataset({'type': 'SingleImageDataset', 'dataroot_lq': str(lq), 'io_backend': {'type': 'disk'}})
    assert [os.path.basename(ds[i]['lq_path']) for i in range(len(ds))] == [f'face{i}_lq.jpg' for i in range(3)]
    assert ds[0]['lq'].shape == (3, 64, 64) and 0 <= ds[0]['lq'].min() and ds[0]['lq'].max() <= 1


# ------------------------------------------------------------------------------------------ with the data loader
def test_two_worker_loader_is_reproducible(damaged):
    from gfpgan.data import build_dataloader
    ds = build_dataset(small_options(damaged, max_bad_fraction=0.2))
    opt = dict(phase='train', batch_size_per_gpu=4, num_worker_per_gpu=2, use_shuffle=True, persistent_workers=False)

    def one_epoch():
        torch.manual_seed(0)
        loader = build_dataloader(ds, opt, seed=0)
        return [batch['lq'] for batch in loader]

    a, b = one_epoch(), one_epoch()
    assert len(a) == 23 // 4
    for x, y in zip(a, b):
        torch.testing.assert_close(x, y, rtol=0, atol=0)


def test_degrade_is_sample_then_apply_and_parameters_survive_json(faces):
    """degrade(img, rng) == apply_degradation(img, sample_degradation(rng)) bitwise, the rng ends in the same
    place, and the parameters re-apply identically after a JSON round trip, for every kernel type and step."""
    kinds = ['iso', 'aniso', 'generalized_iso', 'generalized_aniso', 'plateau_iso', 'plateau_aniso']
    ds = build_dataset(
        official_train_options(
            faces,
            out_size=96,
            blur_kernel_size=21,
            kernel_list=kinds,
            kernel_prob=[1] * 6,
            color_jitter_prob=0.5,
            color_jitter_pt_prob=0.5,
            gray_prob=0.5,
            crop_components=False))
    img = ds.read_gt(0)
    seen = set()
    for seed in range(24):
        a, b = np.random.default_rng(seed), np.random.default_rng(seed)
        lq, gray = ds.degrade(img, a)
        params = ds.sample_degradation(b)
        again, gray_again = ds.apply_degradation(img, json.loads(json.dumps(params)))
        assert np.array_equal(lq, again) and gray == gray_again == params['gray']
        assert a.uniform() == b.uniform()
        seen.add(params['kernel']['kernel_type'])
        seen.update(key for key in ('rgb_shift', 'color_jitter') if params[key] is not None)
    assert seen >= {'rgb_shift', 'color_jitter', 'aniso', 'plateau_iso'}
    with pytest.raises(ValueError, match='drawn for an image of shape'):
        ds.apply_degradation(img[:64], params)


def test_the_constructor_checks_the_declared_specs_in_the_preflight_words(faces):
    from gfpgan.data.ffhq_degradation_dataset import V1_DEFAULTS
    assert FFHQDegradationDataset.OPTIONS == frozenset(V1_DEFAULTS) | {'dataroot_gt', 'io_backend', 'mean', 'std',
                                                                       'out_size'}
    checked, sentence = FFHQDegradationDataset.option_problem('blur_sigma', [10, 0.1])
    assert checked == [10, 0.1] and sentence == ("FFHQDegradationDataset option 'blur_sigma' must be [low, high] with "
                                                 '1e-06 <= low <= high <= inf, got [10, 0.1].')
    with pytest.raises(ValueError) as info:
        build_dataset(official_train_options(faces, blur_sigma=[10, 0.1]))
    assert str(info.value) == sentence
    assert FFHQDegradationDataset.option_problem('blur_sigma', [1, 10]) == ([1.0, 10.0], None)
    assert FFHQDegradationDataset.option_problem('out_size', np.int64(64)) == (64, None)
    opt = official_train_options(faces)
    del opt['out_size']
    with pytest.raises(ValueError, match=r"^FFHQDegradationDataset needs the option 'out_size'"):
        build_dataset(opt)
    with pytest.raises(ValueError, match=r"^PairedImageDataset option 'use_rot' must be true or false, got 'yes'"):
        PairedImageDataset({'dataroot_lq': 'x', 'dataroot_gt': 'x', 'io_backend': {'type': 'disk'}, 'use_rot': 'yes'})
    with pytest.raises(ValueError, match=r'^Dataset option max_bad_files must be an integer >= 0, got ~'):
        SingleImageDataset({'dataroot_lq': 'x', 'max_bad_files': None})
