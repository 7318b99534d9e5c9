"""Logging: the text logger (file, format, ranks), BasicSR's training line, TensorBoard scalars and image grids,
optional wandb, timers."""
import logging
import re
import sys
import types

import pytest
import torch

from gfpgan.utils import dist as dist_util
from gfpgan.utils import logger as logger_module
from gfpgan.utils.logger import (AvgTimer, MessageLogger, get_env_info, get_root_logger, image_grid, init_tb_logger,
                                 init_wandb_logger, log_images)

OPT = {'name': 'train_GFPGANv1_512', 'logger': {'print_freq': 100}, 'train': {'total_iter': 800000}}


@pytest.fixture(autouse=True)
def restore_gfpgan_logger():
    """Give the 'gfpgan' logger back as it was (other tests capture its records through propagation)."""
    log = logging.getLogger('gfpgan')
    saved = (list(log.handlers), log.level, log.propagate)
    yield
    for handler in log.handlers:
        if handler not in saved[0]:
            handler.close()
    log.handlers[:], log.level, log.propagate = saved


def _events(folder):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    events = EventAccumulator(str(folder), size_guidance={'scalars': 0, 'images': 0})
    events.Reload()
    return events


def test_root_logger_writes_timestamped_lines_to_its_file(tmp_path):
    first, second = tmp_path / 'logs' / 'a.log', tmp_path / 'b.log'
    log = get_root_logger(log_file=str(first))
    assert log is logging.getLogger('gfpgan') and log.level == logging.INFO and not log.propagate
    log.info('hello')
    log = get_root_logger(log_file=str(second))  # a second run in this process: the new file replaces the first
    log.warning('again')
    get_root_logger().debug('not shown')
    for handler in log.handlers:
        handler.flush()
    assert re.fullmatch(r'\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} INFO: hello\n', first.read_text())
    assert second.read_text().endswith(' WARNING: again\n')
    files = [h for h in log.handlers if isinstance(h, logging.FileHandler)]
    consoles = [h for h in log.handlers if type(h) is logging.StreamHandler]  # not pytest's capture handlers
    assert len(files) == 1 and len(consoles) == 1


def test_other_ranks_log_errors_only_and_write_no_file(tmp_path, monkeypatch):
    monkeypatch.setattr(dist_util, 'get_dist_info', lambda: (1, 2))
    monkeypatch.setattr(logger_module, 'get_dist_info', lambda: (1, 2))
    log = get_root_logger(log_file=str(tmp_path / 'rank1.log'))
    assert log.level == logging.ERROR and not (tmp_path / 'rank1.log').exists()


def test_env_info_names_the_versions():
    info = get_env_info()
    assert 'gfpgan: ' in info and f'PyTorch: {torch.__version__}' in info and 'GPUs: ' in info


def test_message_logger_formats_basicsr_line(monkeypatch):
    clock = types.SimpleNamespace(time=lambda: 1000.0, perf_counter=lambda: 0.0)
    monkeypatch.setattr(logger_module, 'time', clock)
    msg_logger = MessageLogger(OPT, start_iter=0)
    clock.time = lambda: 1000.0 + 93784.5 / 799  # 1,000 iterations done -> 799,000 left at the same pace
    log_vars = {
        'epoch': 1,
        'iter': 1000,
        'lrs': [1e-4],
        'time': 0.123,
        'data_time': 0.01,
        'l_g_pix': torch.tensor(0.012345),
        'l_d': 0.5
    }
    message, current_iter, values = msg_logger.format(log_vars)
    assert message == ('[train..][epoch:  1, iter:   1,000, lr:(1.000e-04,)] [eta: 1 day, 2:03:04, time (data): '
                       '0.123 (0.010)] l_g_pix: 1.2345e-02 l_d: 5.0000e-01')
    assert current_iter == 1000 and values == pytest.approx({'l_g_pix': 0.012345, 'l_d': 0.5})
    assert 'epoch' in log_vars  # the caller's dict is left alone
    short, _, _ = msg_logger.format({'epoch': 12, 'iter': 5, 'lrs': [2e-3, 1e-3]})
    assert short == '[train..][epoch: 12, iter:       5, lr:(2.000e-03,1.000e-03,)]'
    msg_logger.reset_start_time(1000)
    assert msg_logger.start_iter == 1000


def test_message_logger_logs_and_writes_tensorboard_scalars(tmp_path, monkeypatch):
    get_root_logger(log_file=str(tmp_path / 'train.log'))
    writer = init_tb_logger(str(tmp_path / 'tb'))
    msg_logger = MessageLogger(OPT, tb_logger=writer)
    for step in (100, 200):
        msg_logger({'epoch': 0, 'iter': step, 'lrs': [0.002], 'l_g_pix': step / 1000, 'psnr': 20.0})
    monkeypatch.setattr(dist_util, 'get_dist_info', lambda: (1, 2))
    msg_logger({'epoch': 0, 'iter': 300, 'lrs': [0.002], 'l_g_pix': 1.0})  # rank 1: nothing
    assert init_tb_logger(str(tmp_path / 'tb1')) is None and not (tmp_path / 'tb1').exists()
    writer.close()
    events = _events(tmp_path / 'tb')
    assert set(events.Tags()['scalars']) == {'losses/l_g_pix', 'psnr'}
    assert [(e.step, round(e.value, 6)) for e in events.Scalars('losses/l_g_pix')] == [(100, 0.1), (200, 0.2)]
    for handler in logging.getLogger('gfpgan').handlers:
        handler.flush()
    lines = (tmp_path / 'train.log').read_text().splitlines()
    assert len(lines) == 2 and lines[1].endswith('iter:     200, lr:(2.000e-03,)] l_g_pix: 2.0000e-01 psnr: 2.0000e+01')


def test_image_grid_and_tensorboard_images(tmp_path):
    restored = torch.full((5, 3, 16, 12), -1.0)
    lq = torch.zeros(5, 3, 8, 6)  # smaller: resized to the restored size
    gt = torch.ones(5, 3, 16, 12)
    grid = image_grid(lq, restored, gt)
    assert grid.shape == (3, 4 * 16, 3 * 12) and grid.min() >= 0 and grid.max() <= 1
    assert torch.all(grid[:, :, :12] == 0.5) and torch.all(grid[:, :, 12:24] == 0) and torch.all(grid[:, :, 24:] == 1)
    assert image_grid(lq, restored, None, max_images=2).shape == (3, 32, 24)
    with pytest.raises(ValueError, match=r'\(B, 3, H, W\)'):
        image_grid(lq[:2], restored)

    writer = init_tb_logger(str(tmp_path / 'tb'))
    out = log_images(writer, 'val/face', lq, restored, gt, step=7, max_images=2)
    writer.close()
    assert out.shape == (3, 32, 36)
    (image, ) = _events(tmp_path / 'tb').Images('val/face')
    assert (image.step, image.width, image.height) == (7, 36, 32)
    assert log_images(None, 'x', lq, restored, gt, step=0).shape == (3, 64, 36)


def test_wandb_is_optional(monkeypatch, caplog):
    assert init_wandb_logger({'name': 'x', 'logger': {'wandb': {'project': None}}}) is None
    assert init_wandb_logger({'name': 'x', 'logger': {}}) is None
    monkeypatch.setitem(sys.modules, 'wandb', None)  # import wandb fails, as where it is not installed
    opt = {'name': 'x', 'logger': {'wandb': {'project': 'faces', 'resume_id': None}}}
    get_root_logger().propagate = True  # to caplog's handler
    with caplog.at_level(logging.WARNING, logger='gfpgan'):
        assert init_wandb_logger(opt) is None
    assert any('wandb is not installed' in r.getMessage() and 'faces' in r.getMessage() for r in caplog.records)
    with pytest.raises(ImportError, match='pip install wandb'):
        init_wandb_logger(opt, required=True)


def test_avg_timer(monkeypatch):
    clock = types.SimpleNamespace(time=lambda: 0.0, perf_counter=lambda: 0.0)
    monkeypatch.setattr(logger_module, 'time', clock)
    timer = AvgTimer(window=2)
    assert timer.get_avg_time() == 0.0
    for now in (1.0, 4.0, 9.0):
        clock.perf_counter = lambda now=now: now
        timer.record()
    assert timer.get_current_time() == 5.0 and timer.get_avg_time() == 4.0  # the last two: 3 and 5
    timer.start()
    clock.perf_counter = lambda: 9.5
    timer.record()
    assert timer.get_current_time() == 0.5
