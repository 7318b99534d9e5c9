"""Unreadable training samples: a missing LMDB key is skipped like a bad file, the allowance is a count or a
fraction (a small set survives a bad file), too many stop with one sentence, and the skipped count travels with
the batches from the loader's workers to the training log and TensorBoard."""
import logging
import os
import subprocess
import sys

import cv2
import lmdb
import numpy as np
import pytest
import torch
from skimage import data as skdata

from gfpgan.data import build_dataloader, build_dataset, build_prefetcher
from gfpgan.data.image_dataset import BadDataError, SkippedSampleCounter
from gfpgan.data.lmdb_util import create_lmdb
from gfpgan.data.storage import ImageSource, MissingLmdbKeyError
from gfpgan.errors import GFPGANError
from gfpgan.utils.img_util import ImageReadError


def face_bgr(size, seed=0):
    img = cv2.resize(skdata.astronaut(), (size, size), interpolation=cv2.INTER_AREA)[:, :, ::-1]
    return np.ascontiguousarray(np.roll(img, seed * 5, axis=1))


def image_folder(folder, good, bad=0):
    """``good`` 32x32 faces and ``bad`` empty files named ``<i>b.png`` among them."""
    folder.mkdir()
    for i in range(good):
        cv2.imwrite(str(folder / f'{i:03d}.png'), face_bgr(32, i))
    for i in range(bad):
        (folder / f'{i:03d}b.png').write_bytes(b'')
    return folder


def options(root, **changes):
    opt = dict(type='FFHQDegradationDataset', dataroot_gt=str(root), io_backend={'type': 'disk'}, out_size=32,
               mean=[0.5] * 3, std=[0.5] * 3, phase='train')
    opt.update(changes)
    return opt


class Warnings(logging.Handler):
    """Collects the project's warnings (its logger may not propagate to pytest's caplog)."""

    def __init__(self):
        super().__init__(logging.WARNING)
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())

    def __enter__(self):
        logging.getLogger('gfpgan').addHandler(self)
        return self

    def __exit__(self, *exc):
        logging.getLogger('gfpgan').removeHandler(self)


def test_a_missing_lmdb_key_is_skipped_and_counted(tmp_path):
    create_lmdb(image_folder(tmp_path / 'faces', 6), tmp_path / 'faces.lmdb', progress=False)
    env = lmdb.open(str(tmp_path / 'faces.lmdb'), map_size=1 << 24)
    with env.begin(write=True) as txn:
        assert txn.delete(b'002')  # listed in meta_info.txt, gone from the database
    env.close()
    source = ImageSource(tmp_path / 'faces.lmdb', {'type': 'lmdb'})
    with pytest.raises(MissingLmdbKeyError) as err:
        source.read('002')
    assert isinstance(err.value, (ImageReadError, KeyError, GFPGANError))
    assert str(err.value).startswith("Key '002' is not in the LMDB database '") and 'faces.lmdb' in str(err.value)

    ds = build_dataset(options(tmp_path / 'faces.lmdb', io_backend={'type': 'lmdb'}))
    index = ds.paths.index('002')
    with Warnings() as caught:
        sample = ds[index]
    assert sample['gt_path'] != '002' and sample['num_skipped'] == 1
    assert list(ds.bad_files) == [index] and ds.num_skipped == 1
    assert len(caught.messages) == 1 and "Key '002'" in caught.messages[0] and 'faces.lmdb' in caught.messages[0]


def test_a_ten_image_set_survives_a_bad_file(tmp_path):
    ds = build_dataset(options(image_folder(tmp_path / 'faces', 9, bad=1)))  # default allowance: 5 files
    assert len(ds) == 10 and ds.bad_file_allowance == 5
    skipped = sum(ds[i]['num_skipped'] for i in range(len(ds)))
    assert skipped == 1 and len(ds.bad_files) == 1


def test_the_allowance_is_a_count_or_a_fraction(tmp_path):
    root = image_folder(tmp_path / 'faces', 10)
    assert build_dataset(options(root, max_bad_files=1, max_bad_fraction=0.5)).bad_file_allowance == 5
    assert build_dataset(options(root, max_bad_files=3, max_bad_fraction=0.01)).bad_file_allowance == 3
    assert build_dataset(options(root, max_bad_fraction=0.2)).bad_file_allowance == 5  # the default count wins


def test_too_many_bad_files_stop_with_one_sentence(tmp_path):
    ds = build_dataset(options(image_folder(tmp_path / 'faces', 7, bad=3), max_bad_files=2))
    with pytest.raises(BadDataError) as err:
        for i in range(len(ds)):
            ds[i]
    message = str(err.value)
    assert isinstance(err.value, GFPGANError)
    assert message.startswith('3 of 10 training images could not be read, more than the 2 allowed by max_bad_files=2')
    assert message.endswith('raise max_bad_files in the dataset options.') and '\n' not in message
    assert message.count('. ') == 0  # one sentence: the first bad file's reason is quoted without its full stop


def test_a_set_of_only_bad_files_stops(tmp_path):
    ds = build_dataset(options(image_folder(tmp_path / 'faces', 0, bad=3)))
    with pytest.raises(BadDataError, match='^None of the 3 training images could be read'):
        ds[0]


@pytest.mark.parametrize('mode', [None, 'cpu'])
def test_the_skipped_count_arrives_in_the_batches_from_worker_processes(tmp_path, mode):
    ds = build_dataset(options(image_folder(tmp_path / 'faces', 8, bad=2)))
    opt = dict(phase='train', batch_size_per_gpu=2, num_worker_per_gpu=2, use_shuffle=True, persistent_workers=False,
               prefetch_mode=mode)
    prefetcher = build_prefetcher(build_dataloader(ds, opt, seed=0), opt)
    counter, total = SkippedSampleCounter(), 0
    batch = prefetcher.next()
    while batch is not None:
        assert batch['num_skipped'].dtype == torch.int64 and batch['num_skipped'].shape == (2, )
        total += int(batch['num_skipped'].sum())
        counter.add(batch)
        batch = prefetcher.next()
    prefetcher.close()
    assert ds.num_skipped == 0  # the skips happened in the workers: only the batches know of them
    assert total >= 2  # each bad file is drawn once an epoch (a replacement may be the other bad file)

    class Board:
        scalars = []

        def add_scalar(self, tag, value, step):
            self.scalars.append((tag, value, step))

    with Warnings() as caught:
        assert counter.report(3, 40, tb_logger=Board()) == total
    assert caught.messages == [f'Epoch 3: {total} samples skipped (unreadable files).']
    assert Board.scalars == [('data/skipped_samples', total, 40)]
    assert counter.report(4, 41) is None  # no batch since: nothing to report


def test_the_skipped_count_reaches_the_training_log_and_tensorboard(tmp_path):
    """A tiny training with two loader workers on 9 faces and one empty file: epoch 0 logs the skip."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from gfpgan.data.components import save_component_boxes
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    folder = image_folder(tmp_path / 'faces', 9, bad=1)
    box = {'left_eye': [200., 240., 20.], 'right_eye': [310., 240., 20.], 'mouth': [256., 370., 40.]}
    save_component_boxes({f'{i:08d}': box for i in range(10)}, tmp_path / 'components.pth')
    settings = [
        f'datasets:train:dataroot_gt={folder}', f'datasets:train:component_path={tmp_path / "components.pth"}',
        'datasets:train:out_size=32', 'network_g:out_size=32', 'network_d:out_size=32',
        'datasets:train:batch_size_per_gpu=2', 'datasets:train:num_worker_per_gpu=2', 'network_g:narrow=0.125',
        'network_g:num_style_feat=32', 'network_d:narrow=0.125', 'num_gpu=0', 'train:total_iter=7',
        'logger:save_checkpoint_freq=100', 'logger:use_tb_logger=true'
    ]
    proc = subprocess.run([
        sys.executable,
        os.path.join(root, 'tests', 'train_in_cwd.py'), '-opt',
        os.path.join(root, 'options', 'train_gfpgan_tiny.yml'), '--force_yml', *settings
    ], cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    exp = tmp_path / 'experiments' / 'train_gfpgan_tiny'
    log = ''.join((exp / name).read_text() for name in os.listdir(exp) if name.endswith('.log'))
    # 5 iterations an epoch: epoch 0 draws every file once, the bad one included; epoch 1 ends early, at 7
    assert 'Epoch 0: 1 samples skipped (unreadable files).' in log, log[-3000:]
    events = EventAccumulator(str(tmp_path / 'tb_logger' / 'train_gfpgan_tiny')).Reload()
    assert [(e.step, e.value) for e in events.Scalars('data/skipped_samples')][0] == (5, 1)


def _report_on_rank(rank, world_size, init_file, out_dir):
    import torch.distributed as dist
    dist.init_process_group('gloo', init_method=f'file://{init_file}', rank=rank, world_size=world_size)
    try:
        counter = SkippedSampleCounter()
        counter.add({'num_skipped': torch.tensor([rank + 1, 0])})  # rank 0 skipped 1 file, rank 1 two
        counter.add({'num_skipped': torch.tensor([0, 0])})
        with open(os.path.join(out_dir, f'rank{rank}.txt'), 'w') as f:
            f.write(str(counter.report(0, 2)))
    finally:
        dist.destroy_process_group()


def test_the_epoch_count_is_summed_over_ranks(tmp_path):
    import torch.multiprocessing as mp
    mp.spawn(_report_on_rank, args=(2, str(tmp_path / 'init'), str(tmp_path)), nprocs=2)
    assert [(tmp_path / f'rank{r}.txt').read_text() for r in range(2)] == ['3', '3']


def test_too_many_bad_files_in_a_worker_process_stay_one_sentence(tmp_path):
    ds = build_dataset(options(image_folder(tmp_path / 'faces', 4, bad=4), max_bad_files=1))
    opt = dict(phase='train', batch_size_per_gpu=8, num_worker_per_gpu=1, use_shuffle=False, persistent_workers=False)
    with pytest.raises(BadDataError) as err:
        next(iter(build_dataloader(ds, opt, seed=0)))
    message = str(err.value)
    assert 'Traceback' not in message and '\n' not in message
    assert message.startswith('2 of 8 training images could not be read')
