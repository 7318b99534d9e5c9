"""What every image dataset of the project shares: option checking, a per-process random generator, and
surviving unreadable files during training."""
import logging
import math
import os

import numpy as np
import torch
from torch.utils import data

from gfpgan.utils.img_util import ImageReadError

logger = logging.getLogger('gfpgan')

# Keys a `datasets.<phase>` block may hold for the data loader and the options parser rather than the dataset.
LOADER_KEYS = frozenset({
    'name', 'type', 'phase', 'scale', 'use_shuffle', 'num_worker_per_gpu', 'batch_size_per_gpu',
    'dataset_enlarge_ratio', 'prefetch_mode', 'num_prefetch_queue', 'pin_memory', 'persistent_workers',
    'prefetch_factor'
})


def to_normalized_tensor(img, mean=None, std=None):
    """(H, W, 3) float32 RGB in [0, 1] -> (3, H, W) contiguous tensor, ``(img - mean) / std`` when mean / std
    are given."""
    tensor = torch.from_numpy(np.ascontiguousarray(img, dtype=np.float32)).permute(2, 0, 1)
    tensor = tensor.clone(memory_format=torch.contiguous_format)  # a copy: the in-place ops below keep img intact
    if mean is not None:
        tensor.sub_(torch.as_tensor(mean, dtype=torch.float32).view(-1, 1, 1))
    if std is not None:
        tensor.div_(torch.as_tensor(std, dtype=torch.float32).view(-1, 1, 1))
    return tensor


class ImageDataset(data.Dataset):
    """Base of the image datasets.

    Subclasses list their option names in ``OPTIONS`` and implement ``load(index)``. While ``skip_bad_files`` is
    set (training), a file that cannot be read is logged once with its path, another sample is returned in its
    place and the skip is counted; more than ``max_bad_fraction`` of the dataset failing stops the run with an
    error. Counts are per process (each DataLoader worker keeps its own).
    """
    OPTIONS = frozenset()
    MAX_ATTEMPTS = 20

    def __init__(self, opt, skip_bad_files):
        unknown = sorted(set(opt) - self.OPTIONS - LOADER_KEYS - {'max_bad_fraction'})
        if unknown:
            raise ValueError(f'{type(self).__name__} has no option {unknown[0]!r}; '
                             f'its options are: {", ".join(sorted(self.OPTIONS))}.')
        self.opt = opt
        self.skip_bad_files = skip_bad_files
        fraction = opt.get('max_bad_fraction', 0.01)
        if isinstance(fraction, bool) or not isinstance(fraction, (int, float)) or not 0 <= fraction < 1:
            raise ValueError(f'Dataset option max_bad_fraction must be a number in [0, 1), got {fraction!r}.')
        self.max_bad_fraction = float(fraction)
        self.bad_files = {}  # index -> reason, samples found unreadable by this process
        self.num_skipped = 0  # samples replaced by another one in this process
        self._rng = None
        self._rng_pid = None

    @staticmethod
    def require(opt, *keys, owner):
        """Raise one clear error for the first missing required option."""
        for key in keys:
            if opt.get(key) is None:
                raise ValueError(f'{owner} needs the option {key!r} (see options/train_gfpgan_v1.yml).')

    def check_range(self, key, value, low=-math.inf, high=math.inf):
        """``value`` of option ``key`` as [lo, hi] floats with low <= lo <= hi <= high; None stays None."""
        if value is None:
            return None
        try:
            lo, hi = (float(v) for v in value)
        except (TypeError, ValueError):
            lo = hi = math.nan
        if not low <= lo <= hi <= high:
            raise ValueError(f'{type(self).__name__} option {key!r} must be [low, high] with {low:g} <= low <= high '
                             f'<= {high:g}, got {value!r}.')
        return [lo, hi]

    def check_probability(self, key, value):
        """``value`` of option ``key`` as a float in [0, 1]; None stays None."""
        if value is not None and (isinstance(value, bool) or not isinstance(value,
                                                                            (int, float)) or not 0 <= value <= 1):
            raise ValueError(f'{type(self).__name__} option {key!r} must be a probability in [0, 1] or ~, '
                             f'got {value!r}.')
        return value

    @property
    def rng(self):
        """numpy Generator of this process, seeded from ``torch.initial_seed()`` when first used here (the data
        loader's worker_init_fn seeds torch per worker, rank and epoch, so each worker draws its own stream)."""
        if self._rng is None or self._rng_pid != os.getpid():
            self._rng = np.random.default_rng(torch.initial_seed())
            self._rng_pid = os.getpid()
        return self._rng

    def seed(self, seed):
        """Restart this process's random stream from ``seed``."""
        self._rng = np.random.default_rng(seed)
        self._rng_pid = os.getpid()

    def load(self, index):
        raise NotImplementedError

    def __getitem__(self, index):
        """``index``, or ``(index, sample_seed)`` from a sampler with ``sample_seeds``: the sample's randomness then
        comes from its own seed, the same whichever worker loads it and after a resume."""
        if isinstance(index, (tuple, list)):
            index, sample_seed = index
            self.seed(sample_seed)
        if not self.skip_bad_files:
            return self.load(index)
        for _ in range(self.MAX_ATTEMPTS):
            try:
                return self.load(index)
            except (ImageReadError, OSError) as err:
                index = self._skip(index, err)
        raise RuntimeError(f'{self.MAX_ATTEMPTS} training images in a row could not be read; '
                           'see the warnings above for their paths.')

    def _skip(self, index, err):
        """Record a bad sample and choose a replacement among the indices not known to be bad."""
        if index not in self.bad_files:
            self.bad_files[index] = str(err)
            logger.warning('Skipping an unreadable training image (another one is used instead): %s', err)
        self.num_skipped += 1
        if len(self.bad_files) > self.max_bad_fraction * len(self):
            raise RuntimeError(
                f'{len(self.bad_files)} of {len(self)} training images could not be read, more than '
                f'max_bad_fraction={self.max_bad_fraction:g} allows; repair or remove them, or raise '
                f'max_bad_fraction in the dataset options (first: {next(iter(self.bad_files.values()))})')
        while True:
            index = int(self.rng.integers(len(self)))
            if index not in self.bad_files:
                return index
