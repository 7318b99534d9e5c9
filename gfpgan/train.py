"""The training loop behind ``train.py`` and ``gfpgan-train``: options, process group, data, model, then
iterations with logging, validation, atomic checkpoints, exact resuming and a clean stop on SIGTERM / SIGINT."""
import math
import random
import signal
import sys
import time

import numpy as np
import torch
from tqdm import tqdm

from gfpgan.data import EnlargedSampler, build_dataloader, build_dataset, build_prefetcher
from gfpgan.data.image_dataset import SkippedSampleCounter
from gfpgan.errors import GFPGANError, error_message, run_cli
from gfpgan.models import build_model
from gfpgan.models.base_model import NonFiniteError, check_resume_world_size, rank_rng_state, set_rng_state
from gfpgan.config.cli import parse_options
from gfpgan.config.printing import dict2str
from gfpgan.config.spec import OptionsError
from gfpgan.config.validation import record_dist_state
from gfpgan.preflight import Preflight
from gfpgan.run import checkpoint_folders, log_file_path, make_exp_dirs, network_label, use_resumed_networks
from gfpgan.utils.checkpoint import load_checkpoint_file
from gfpgan.utils.dist import any_rank, barrier, get_dist_info, init_dist
from gfpgan.utils.fileio import remove_stale_temporaries
from gfpgan.utils.logger import MessageLogger, get_env_info, get_root_logger, init_tb_logger, init_wandb_logger

__all__ = ['main', 'train_pipeline', 'join_process_group', 'network_label', 'use_resumed_networks']


def set_random_seed(seed):
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    torch.cuda.manual_seed_all(seed)


def join_process_group(opt, args):
    """Join the process group of the launcher named on the command line (`args.launcher`, not 'none'), with
    ``dist_params`` of the options, then record rank / world size in `opt` (rank 0's seed becomes everyone's)."""
    dist_params = opt.get('dist_params') or {}
    init_dist(
        args.launcher,
        backend=dist_params.get('backend'),
        port=dist_params.get('port'),
        local_rank=args.local_rank if args.launcher == 'pytorch' else None)
    record_dist_state(opt)


class StopRequest:
    """Records SIGTERM / SIGINT (preemption, Ctrl-C) so the loop can save and leave between iterations."""

    def __init__(self):
        self.signal = None
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._handle)

    def _handle(self, signum, frame):
        if self.signal is not None and signum == signal.SIGINT:  # a second Ctrl-C: leave at once
            raise KeyboardInterrupt
        self.signal = signum

    def requested(self):
        """Whether any rank was asked to stop (every rank must call this at the same iteration)."""
        return any_rank(self.signal is not None)


def remove_interrupted_writes(opt, logger):
    """Remove the temporaries that checkpoint writes killed midway (kill -9, power loss) left in the experiment's
    models/ and training_states/ folders (``.<name>.<8 hex>.tmp`` only), and log what was freed."""
    files, size = 0, 0
    for folder in checkpoint_folders(opt):
        removed = remove_stale_temporaries(folder)
        files, size = files + removed[0], size + removed[1]
    if files:
        logger.info('Removed %d temporary file%s of interrupted checkpoint writes (%s bytes).', files,
                    '' if files == 1 else 's', f'{size:,d}')


def build_datasets(opt):
    """``{name: dataset}`` of opt['datasets'], built before the experiment folder exists: every dataset that
    cannot be built (bad option values, unreadable files) is one line of a single OptionsError."""
    datasets, problems = {}, Preflight(opt['opt_path'])
    for name, dataset_opt in opt['datasets'].items():
        try:
            datasets[name] = build_dataset(dataset_opt)
        except (GFPGANError, ValueError, OSError) as err:
            problems.add(f"Dataset `datasets.{name}` of {opt['opt_path']}: {error_message(err)}")
            continue
        if dataset_opt['phase'] == 'train':
            size = len(datasets[name]) * (dataset_opt.get('dataset_enlarge_ratio') or 1)
            batch, world_size = dataset_opt['batch_size_per_gpu'], opt['world_size']
            if math.ceil(size / world_size) < batch:  # incomplete batches are dropped: no iteration at all
                problems.add(f"{opt['opt_path']}: datasets.{name} has {len(datasets[name])} images, fewer than one "
                             f'batch of {batch} per GPU x {world_size} processes: lower batch_size_per_gpu.')
    if not any(dataset_opt['phase'] == 'train' for dataset_opt in opt['datasets'].values()):
        problems.add(f"{opt['opt_path']}: datasets has no 'train' entry; training needs one.")
    problems.raise_if_any(error=OptionsError)
    return datasets


def create_dataloaders(opt, logger, datasets):
    """(train sampler, train prefetcher, validation loaders) from the datasets of opt['datasets']."""
    train = None
    val_loaders = []
    rank, world_size = opt['rank'], opt['world_size']
    for name, dataset_opt in opt['datasets'].items():
        dataset = datasets[name]
        if dataset_opt['phase'] == 'train':
            ratio = dataset_opt.get('dataset_enlarge_ratio') or 1
            sampler = EnlargedSampler(
                dataset,
                world_size,
                rank,
                ratio,
                shuffle=dataset_opt.get('use_shuffle', True),
                seed=opt['manual_seed'],
                sample_seeds=True)
            loader = build_dataloader(dataset, dataset_opt, opt['num_gpu'], opt['dist'], sampler, opt['manual_seed'])
            batch = dataset_opt['batch_size_per_gpu']
            iters_per_epoch = len(loader)  # incomplete last batches are dropped
            total_iters = int(opt['train']['total_iter'])
            logger.info(
                'Training data: %d images, enlarge ratio %d, batch %d per GPU x %d ranks, %d iterations per epoch; '
                '%d iterations = %d epochs.', len(dataset), ratio, batch, world_size, iters_per_epoch, total_iters,
                math.ceil(total_iters / iters_per_epoch))
            device = torch.device('cuda') if opt['num_gpu'] and torch.cuda.is_available() else None
            train = (sampler, build_prefetcher(loader, dataset_opt, device=device))
        elif dataset_opt['phase'] == 'val':
            val_loaders.append(
                build_dataloader(dataset, dataset_opt, opt['num_gpu'], opt['dist'], None, opt['manual_seed']))
            logger.info('Validation data %s: %d images.', dataset_opt.get('name', name), len(dataset))
    return train + (val_loaders, )


def train_pipeline(root_path=None, argv=None, on_end=None):
    """Run a training from the command line ``argv`` (train.py's); returns the process exit code. ``on_end(model,
    opt)`` is called on every rank after the last iteration (tests use it to compare ranks)."""
    opt, args = parse_options(argv, root_path, is_train=True)  # every option, file and pretrained network checked
    if args.launcher != 'none':
        join_process_group(opt, args)
    rank, world_size = get_dist_info()
    set_random_seed(opt['manual_seed'] + rank)
    if opt.get('deterministic'):
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = False
    else:
        torch.backends.cudnn.benchmark = True

    resume_state = None
    if opt['path'].get('resume_state'):
        resume_state = load_checkpoint_file(opt['path']['resume_state'])
        check_resume_world_size(resume_state, opt['path']['resume_state'], world_size)
        use_resumed_networks(opt, resume_state['iter'])
    datasets = build_datasets(opt)
    make_exp_dirs(opt)  # only once everything above passed: a failed start leaves no folder behind
    barrier()
    logger = get_root_logger(log_file=log_file_path(opt) if rank == 0 else None)
    logger.info(get_env_info())
    logger.info(dict2str(opt))
    logger_opt = opt.get('logger') or {}
    tb_logger = None
    if rank == 0 and logger_opt.get('use_tb_logger') and 'debug' not in opt['name']:
        tb_logger = init_tb_logger(opt['path']['tb_logger'])
    if rank == 0 and (logger_opt.get('wandb') or {}).get('project') and 'debug' not in opt['name']:
        init_wandb_logger(opt)

    sampler, prefetcher, val_loaders = create_dataloaders(opt, logger, datasets)
    total_iters = int(opt['train']['total_iter'])
    model = build_model(opt)
    start_epoch, current_iter, epoch_iter = 0, 0, 0
    if resume_state is not None:
        model.resume_training(resume_state)
        start_epoch, current_iter = resume_state['epoch'], resume_state['iter']
        epoch_iter = resume_state.get('epoch_iter', 0)
        logger.info('Resuming from epoch %d, iteration %d (%s).', start_epoch, current_iter,
                    opt['path']['resume_state'])
    if rank == 0:
        remove_interrupted_writes(opt, logger)

    batch = opt['datasets']['train']['batch_size_per_gpu']
    stop = StopRequest()
    msg_logger = MessageLogger(opt, current_iter, tb_logger)
    print_freq = int(logger_opt.get('print_freq', 100))
    save_freq = int(logger_opt.get('save_checkpoint_freq', 5000))
    val_opt = opt.get('val') or {}
    val_freq = int(val_opt.get('val_freq') or 0)
    warmup_iter = opt['train'].get('warmup_iter', -1)

    def save(epoch):
        model.training_state_extra = {'epoch_iter': epoch_iter}
        model.save(epoch, current_iter)  # the original's signature, which a subclass may override
        logger.info('Saved models and training state of iteration %d.', current_iter)

    logger.info('Start training from epoch %d, iteration %d.', start_epoch, current_iter)
    progress = tqdm(
        total=total_iters,
        initial=current_iter,
        unit='it',
        dynamic_ncols=True,
        disable=rank != 0 or not sys.stderr.isatty())  # a bar for people, not for log files
    iter_start = data_start = time.time()
    epoch = start_epoch
    skipped = SkippedSampleCounter()  # samples the data loader replaced (unreadable files), logged per epoch
    try:
        while current_iter < total_iters:
            sampler.set_epoch(epoch)
            if epoch_iter:
                sampler.skip(epoch_iter * batch)  # the samples this epoch already trained on before the resume
            prefetcher.reset()
            if resume_state is not None:  # after the epoch's iterator drew its seeds, as in the uninterrupted run
                set_rng_state(rank_rng_state(resume_state, rank))  # this rank's own
                resume_state = None
            data = prefetcher.next()
            while data is not None and current_iter < total_iters:
                data_time = time.time() - data_start
                current_iter += 1
                epoch_iter += 1
                model.update_learning_rate(current_iter, warmup_iter=warmup_iter)
                model.feed_data(data)
                skipped.add(data)
                model.optimize_parameters(current_iter)
                progress.update(1)
                iter_time = time.time() - iter_start
                if current_iter % print_freq == 0:
                    log_vars = {'epoch': epoch, 'iter': current_iter, 'lrs': model.get_current_learning_rate()}
                    log_vars.update(time=iter_time, data_time=data_time)
                    log_vars.update(model.get_current_log())
                    msg_logger(log_vars)
                if current_iter % save_freq == 0:
                    save(epoch)
                if val_loaders and val_freq and current_iter % val_freq == 0:
                    for loader in val_loaders:
                        model.validation(loader, current_iter, tb_logger, val_opt.get('save_img', False))
                if stop.requested():
                    logger.warning('Stopping on signal %s at iteration %d: saving a checkpoint first.', stop.signal,
                                   current_iter)
                    save(epoch)
                    return 0
                iter_start = data_start = time.time()
                data = prefetcher.next()
            if data is None:
                skipped.report(epoch, current_iter, logger, tb_logger)
                epoch, epoch_iter = epoch + 1, 0
        skipped.report(epoch, current_iter, logger, tb_logger)  # the last epoch, when it ended early
    except NonFiniteError as err:  # too many NaN steps in a row, or NaN weights refused at a save
        logger.error('%s', err)
        return 1
    finally:
        summary = model.skipped_steps_summary()
        if summary:
            logger.info('%s', summary)
        progress.close()
        prefetcher.close()
        if tb_logger is not None:
            tb_logger.close()
    logger.info('End of training at iteration %d: saving the latest models.', current_iter)
    try:
        model.save(-1, -1)
    except NonFiniteError as err:
        logger.error('%s', err)
        return 1
    if on_end is not None:
        on_end(model, opt)
    if val_loaders and val_freq:
        for loader in val_loaders:
            model.validation(loader, current_iter, tb_logger, val_opt.get('save_img', False))
    return 0


def main(root_path=None, argv=None, on_end=None):
    """train.py's entry: a user-facing error is one ``error:`` line (a preflight lists every problem) and exit code
    2; the traceback only with --debug or GFPGAN_DEBUG=1."""
    return run_cli(lambda args: train_pipeline(root_path, args, on_end), argv)
