"""Training logs: the text logger (console + file, rank 0), BasicSR's iteration message, TensorBoard scalars and
image grids, optional wandb, and the environment summary written at start-up."""
import collections
import datetime
import logging
import os
import platform
import time

import torch

from gfpgan.utils.dist import get_dist_info, master_only

__all__ = [
    'LOG_FORMAT', 'get_root_logger', 'get_env_info', 'init_tb_logger', 'init_wandb_logger', 'MessageLogger', 'AvgTimer',
    'image_grid', 'log_images'
]

LOG_FORMAT = '%(asctime)s %(levelname)s: %(message)s'


def get_root_logger(logger_name='gfpgan', log_level=logging.INFO, log_file=None):
    """The project's logger: console output set up on the first call, `log_file` (rank 0) added when given.

    Ranks other than 0 log errors only. A new `log_file` replaces the previous one (a second run in the same
    process); files are appended to, never truncated.
    """
    logger = logging.getLogger(logger_name)
    rank, _ = get_dist_info()
    handlers = [h for h in logger.handlers if getattr(h, '_gfpgan_log', None)]
    if not handlers:
        stream = logging.StreamHandler()
        stream.setFormatter(logging.Formatter(LOG_FORMAT))
        stream._gfpgan_log = 'console'
        logger.addHandler(stream)
        logger.propagate = False
        logger.setLevel(log_level)
    if log_file is not None and rank == 0:
        log_file = os.path.abspath(log_file)
        if not any(h._gfpgan_log == log_file for h in handlers):
            for old in handlers:
                if old._gfpgan_log != 'console':
                    logger.removeHandler(old)
                    old.close()
            os.makedirs(os.path.dirname(log_file), exist_ok=True)
            file_handler = logging.FileHandler(log_file, 'a', encoding='utf-8')
            file_handler.setFormatter(logging.Formatter(LOG_FORMAT))
            file_handler._gfpgan_log = log_file
            logger.addHandler(file_handler)
        logger.setLevel(log_level)
    if rank != 0:
        logger.setLevel(logging.ERROR)
    return logger


def get_env_info():
    """Versions of gfpgan, Python, PyTorch (+ CUDA, cuDNN), torchvision and the visible GPUs, for the log."""
    from gfpgan.version import __version__
    try:
        import torchvision
        vision = torchvision.__version__
    except ImportError:
        vision = 'not installed'
    lines = [
        'Version information:', f'\tgfpgan: {__version__}', f'\tPython: {platform.python_version()}',
        f'\tPyTorch: {torch.__version__}', f'\tTorchVision: {vision}'
    ]
    if torch.cuda.is_available():
        names = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
        lines += [
            f'\tCUDA: {torch.version.cuda}, cuDNN: {torch.backends.cudnn.version()}',
            f"\tGPUs: {len(names)} ({', '.join(names)})"
        ]
    else:
        lines.append('\tGPUs: none (CPU)')
    return '\n'.join(lines)


@master_only
def init_tb_logger(log_dir):
    """A TensorBoard SummaryWriter writing into `log_dir` (rank 0; None elsewhere)."""
    from torch.utils.tensorboard import SummaryWriter
    return SummaryWriter(log_dir=log_dir)


@master_only
def init_wandb_logger(opt, required=False):
    """Start wandb for ``logger.wandb.project`` (syncing the TensorBoard logs), resuming ``resume_id`` when set.

    Returns the wandb run, or None when no project is set or wandb is missing (a warning; an ImportError if
    `required`).
    """
    logger = get_root_logger()
    wandb_opt = (opt.get('logger') or {}).get('wandb') or {}
    project = wandb_opt.get('project')
    if project is None:
        return None
    try:
        import wandb
    except ImportError:
        message = f'wandb is not installed, so the run is not logged to wandb project {project!r}: pip install wandb'
        if required:
            raise ImportError(message + '.') from None
        logger.warning(message + ' (logging to TensorBoard only).')
        return None
    resume_id = wandb_opt.get('resume_id')
    run_id = resume_id or wandb.util.generate_id()
    run = wandb.init(
        id=run_id,
        resume='allow' if resume_id else 'never',
        name=opt['name'],
        config=opt,
        project=project,
        sync_tensorboard=True)
    logger.info(f"wandb logger: id={run_id}, project={project}{' (resumed)' if resume_id else ''}.")
    return run


class AvgTimer:
    """Seconds between `start()` and `record()` (the timer restarts at each record), averaged over the last
    `window` records."""

    def __init__(self, window=200):
        self.times = collections.deque(maxlen=window)
        self.current_time = 0.0
        self.start()

    def start(self):
        self.tic = time.perf_counter()

    def record(self):
        toc = time.perf_counter()
        self.current_time = toc - self.tic
        self.times.append(self.current_time)
        self.tic = toc

    def get_current_time(self):
        return self.current_time

    def get_avg_time(self):
        return sum(self.times) / len(self.times) if self.times else 0.0


class MessageLogger:
    """Logs BasicSR's training line (rank 0 only), e.g. ``[train..][epoch:  1, iter:   1,000, lr:(1.000e-04,)]
    [eta: 1 day, 2:03:04, time (data): 0.123 (0.010)] l_g_pix: 1.2345e-02`` (one line), and writes the values
    to TensorBoard: ``l_*`` as ``losses/<name>``, the others under their own name."""

    def __init__(self, opt, start_iter=0, tb_logger=None):
        self.exp_name = opt['name']
        self.max_iters = opt['train']['total_iter']
        self.tb_logger = tb_logger
        self.logger = get_root_logger()
        self.reset_start_time(start_iter)

    def reset_start_time(self, current_iter=None):
        """Measure the ETA from now (and from `current_iter`, when given)."""
        if current_iter is not None:
            self.start_iter = current_iter
        self.start_time = time.time()

    def format(self, log_vars):
        """The log line of `log_vars`: epoch, iter, lrs, optionally time and data_time, then the values."""
        log_vars = dict(log_vars)
        epoch, current_iter, lrs = log_vars.pop('epoch'), log_vars.pop('iter'), log_vars.pop('lrs')
        lr_text = ''.join(f'{float(v):.3e},' for v in lrs)
        message = f'[{self.exp_name[:5]}..][epoch:{epoch:3d}, iter:{current_iter:8,d}, lr:({lr_text})]'
        if 'time' in log_vars:
            iter_time, data_time = log_vars.pop('time'), log_vars.pop('data_time', 0.0)
            per_iter = (time.time() - self.start_time) / max(current_iter - self.start_iter, 1)
            eta = datetime.timedelta(seconds=int(per_iter * max(self.max_iters - current_iter, 0)))
            message += f' [eta: {eta}, time (data): {iter_time:.3f} ({data_time:.3f})]'
        values = {k: float(v) for k, v in log_vars.items()}
        message += ''.join(f' {k}: {v:.4e}' for k, v in values.items())
        return message, current_iter, values

    @master_only
    def __call__(self, log_vars):
        """Log one line and write the values to TensorBoard. Reduce the losses over ranks first (every rank)."""
        message, current_iter, values = self.format(log_vars)
        if self.tb_logger is not None:
            for key, value in values.items():
                self.tb_logger.add_scalar(f'losses/{key}' if key.startswith('l_') else key, value, current_iter)
        self.logger.info(message)


def image_grid(lq, restored, gt=None, max_images=4):
    """(3, n * H, k * W) float image in [0, 1]: one row per sample, (lq | restored | gt) side by side.

    Inputs are (B, 3, H, W) in [-1, 1]; `lq` of another size is resized (bilinear) to `restored`'s; `gt` may be
    None (k = 2); n = min(B, max_images).
    """
    if lq.dim() != 4 or restored.dim() != 4 or lq.shape[:2] != restored.shape[:2]:
        raise ValueError(f'lq and restored must be (B, 3, H, W) batches of one size B, got {tuple(lq.shape)} and '
                         f'{tuple(restored.shape)}.')
    size = restored.shape[-2:]
    columns = [lq, restored] + ([gt] if gt is not None else [])
    parts = []
    for images in columns:
        images = images[:max_images].detach().float().cpu()
        if images.shape[-2:] != size:
            images = torch.nn.functional.interpolate(images, size=size, mode='bilinear', align_corners=False)
        parts.append(images)
    rows = torch.cat(parts, dim=3)  # (n, 3, H, k * W)
    grid = torch.cat(list(rows), dim=1)  # (3, n * H, k * W)
    return (grid.clamp(-1, 1) + 1) / 2


def log_images(tb_logger, tag, lq, restored, gt, step, max_images=4):
    """Add the (lq | restored | gt) `image_grid` to TensorBoard as `tag` at `step`; returns the grid."""
    grid = image_grid(lq, restored, gt, max_images)
    if tb_logger is not None:
        tb_logger.add_image(tag, grid, step)
    return grid
