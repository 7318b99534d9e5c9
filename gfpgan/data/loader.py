"""DataLoader construction from a dataset's YAML options, with BasicSR's option names and meaning."""
import functools

import torch
import torch.distributed
import torch.utils.data

from gfpgan.config.spec import Value
from gfpgan.utils.validation import is_int

from .prefetch import check_prefetch_options
from .worker_seed import worker_init_fn

PHASES = ('train', 'val', 'test')

#: The data loader's options in a `datasets.<phase>` block, declared once: the options schema checks them at
#: start-up (gfpgan.config.schema) and build_dataloader and EnlargedSampler take their bounds from here for callers
#: that skip it. The prefetcher's options are declared beside it (prefetch.PREFETCH_OPTIONS).
LOADER_OPTIONS = {
    'batch_size_per_gpu': Value('int', minimum=1),
    'num_worker_per_gpu': Value('int', minimum=0),
    'dataset_enlarge_ratio': Value('int', minimum=1),
    'use_shuffle': Value('bool'),
    'pin_memory': Value('bool'),
    'persistent_workers': Value('bool'),
    'prefetch_factor': Value('int', minimum=1),
}


def _int_option(opt, key, default):
    """Read integer option `key` (`default` when absent or ~) and check it against its LOADER_OPTIONS minimum."""
    minimum = LOADER_OPTIONS[key].minimum
    value = opt.get(key)
    value = default if value is None else value
    if not is_int(value) or value < minimum:
        raise ValueError(f'Dataset option {key} must be an integer >= {minimum}, got {value!r}.')
    return int(value)


def _bool_option(opt, key, default):
    """Read boolean option `key` (`default` when absent or ~)."""
    value = opt.get(key)
    value = default if value is None else value
    if not isinstance(value, bool):
        raise ValueError(f'Dataset option {key} must be true or false, got {value!r}.')
    return value


def _current_rank():
    """Rank of this process in the default process group, 0 when not distributed."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank()
    return 0


def dataset_phase(dataset_opt):
    """Phase of a dataset's options: `phase` ('val_1' counts as 'val'), else 'train' when it has a batch size."""
    phase = dataset_opt.get('phase', 'train' if 'batch_size_per_gpu' in dataset_opt else 'val')
    if not isinstance(phase, str) or phase.split('_')[0] not in PHASES:
        raise ValueError(f"Dataset option phase must be 'train', 'val' or 'test', got {phase!r}.")
    return phase.split('_')[0]


def build_dataloader(dataset, dataset_opt, num_gpu=1, dist=False, sampler=None, seed=None):
    """Build the DataLoader of a dataset from its options, as BasicSR does.

    Train: `batch_size_per_gpu` and `num_worker_per_gpu` (times `num_gpu` when one process drives several
    GPUs, i.e. not `dist`), shuffled by `use_shuffle` unless a `sampler` is given, incomplete last batch
    dropped. Val/test: batch 1, in order, `num_worker_per_gpu` workers (default 0). Both: `pin_memory`
    (default false, true for `prefetch_mode: cuda`), `persistent_workers` (default true) and
    `prefetch_factor`, the last two used only with workers. With `seed`, workers are seeded by
    `worker_init_fn`. Prefetching itself is `build_prefetcher`'s job.
    """
    if not is_int(num_gpu) or num_gpu < 0:
        raise ValueError(f'num_gpu must be an integer >= 0, got {num_gpu!r}.')
    if seed is not None and not is_int(seed):
        raise ValueError(f'The manual seed must be an integer, got {seed!r}.')
    phase = dataset_phase(dataset_opt)
    prefetch_mode = check_prefetch_options(dataset_opt)

    if phase == 'train':
        if dataset_opt.get('batch_size_per_gpu') is None:
            raise ValueError('Dataset option batch_size_per_gpu is required for a train dataset.')
        multiplier = 1 if dist else max(num_gpu, 1)
        batch_size = _int_option(dataset_opt, 'batch_size_per_gpu', None) * multiplier
        num_workers = _int_option(dataset_opt, 'num_worker_per_gpu', 0) * multiplier
        use_shuffle = _bool_option(dataset_opt, 'use_shuffle', True)
        args = dict(batch_size=batch_size, shuffle=use_shuffle and sampler is None, drop_last=True)
    else:
        num_workers = _int_option(dataset_opt, 'num_worker_per_gpu', 0)
        args = dict(batch_size=1, shuffle=False, drop_last=False)

    pin_memory = _bool_option(dataset_opt, 'pin_memory', prefetch_mode == 'cuda')
    if prefetch_mode == 'cuda' and not pin_memory:
        raise ValueError("Dataset option pin_memory must be true with prefetch_mode 'cuda' (or leave it out).")
    persistent_workers = _bool_option(dataset_opt, 'persistent_workers', True)
    prefetch_factor = _int_option(dataset_opt, 'prefetch_factor', 2)  # 2 is the DataLoader's default
    args.update(dataset=dataset, sampler=sampler, num_workers=num_workers, pin_memory=pin_memory)
    if num_workers > 0:
        args['persistent_workers'] = persistent_workers
        args['prefetch_factor'] = prefetch_factor
        if seed is not None:
            args['worker_init_fn'] = functools.partial(
                worker_init_fn, num_workers=num_workers, rank=_current_rank(), seed=int(seed))
    return torch.utils.data.DataLoader(**args)
