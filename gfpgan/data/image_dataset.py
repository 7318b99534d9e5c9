"""What every image dataset of the project shares: option checking, a per-process random generator, and
surviving unreadable files during training."""
import logging
import math
import os

import numpy as np
import torch
from torch.utils import data

from gfpgan.config.spec import Component, FilePath, Fraction, ListOf, OneOf, Probability, Range, Value, problem_of
from gfpgan.errors import GFPGANError
from gfpgan.utils.dist import get_dist_info, reduce_loss_dict
from gfpgan.utils.img_util import ImageReadError

from .loader import LOADER_OPTIONS
from .prefetch import PREFETCH_OPTIONS

logger = logging.getLogger('gfpgan')

#: Options of a `datasets.<phase>` block that the options parser reads or fills (``type`` names the class).
PARSER_OPTIONS = {'name': Value('str'), 'phase': Value('str'), 'scale': Value('int', minimum=1)}
# Keys a `datasets.<phase>` block may hold for the data loader, the prefetcher (their declared LOADER_OPTIONS and
# PREFETCH_OPTIONS) and the options parser rather than the dataset.
LOADER_KEYS = frozenset(LOADER_OPTIONS) | frozenset(PREFETCH_OPTIONS) | frozenset(PARSER_OPTIONS) | {'type'}
#: `mean` / `std` of the normalisation: one number or one per channel.
NORMALIZATION = OneOf(Value('number'), ListOf(Value('number')))


def checked_by_dataset(spec):
    """Whether a dataset checks the option of `spec` itself (values); paths and the io_backend are looked up by
    the options preflight and by the storage that opens them."""
    return not isinstance(spec, (FilePath, Component))


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


class BadDataError(GFPGANError, RuntimeError):
    """Too many training images could not be read: the data needs repairing before training goes on.

    Raised in a DataLoader worker, it reaches the training loop rebuilt by the loader from a message that holds
    the worker's traceback; the error keeps only its own sentence, the traceback's last line."""

    def __init__(self, message=''):
        marker = f'{type(self).__name__}: '
        if '\nOriginal Traceback' in message and marker in message:
            message = message.rstrip().rsplit(marker, 1)[1]
        super().__init__(message)


# A training set may hold up to max(max_bad_files, max_bad_fraction * its size) unreadable images.
DEFAULT_MAX_BAD_FILES = 5
DEFAULT_MAX_BAD_FRACTION = 0.01
#: The options of every image dataset, declared once.
BAD_FILE_OPTIONS = {
    'max_bad_files': Value('int', minimum=0, nullable=False),
    'max_bad_fraction': Fraction(nullable=False),
}
BAD_FILE_KEYS = frozenset(BAD_FILE_OPTIONS)


class ImageDataset(data.Dataset):
    """Base of the image datasets.

    Subclasses declare their options once in ``OPTION_SPEC`` (name -> spec of :mod:`gfpgan.config.spec`;
    ``OPTIONS`` are its names) and implement ``load(index)``. The options schema composes :meth:`option_spec` into
    the `datasets.<phase>` blocks naming the class, so that bad options are reported at start-up; the constructor
    checks the same specs for direct callers, with the same sentences (:meth:`option_problem`).

    While ``skip_bad_files`` is set (training), a file that cannot be read (ImageReadError, including a missing LMDB
    key, or OSError) is logged once with its path, another sample is returned in its place, and the sample dict
    carries ``num_skipped``: how many unreadable files were passed over to produce it (the data loader collates it
    to a (B,) int64 tensor, so the count reaches the training loop from the worker processes). The run stops with a
    BadDataError once more files than ``max(max_bad_files, max_bad_fraction * len(dataset))`` (defaults 5 and
    0.01), or all of them, are found unreadable: a small set survives a few bad files, a large one a fraction.
    Counts are per process (each DataLoader worker keeps its own).
    """
    OPTION_SPEC = {}
    OPTIONS = frozenset()
    MAX_ATTEMPTS = 20

    def __init__(self, opt, skip_bad_files):
        unknown = sorted(set(opt) - self.OPTIONS - LOADER_KEYS - BAD_FILE_KEYS)
        if unknown:
            raise ValueError(f'{type(self).__name__} has no option {unknown[0]!r}; '
                             f'its options are: {", ".join(sorted(self.OPTIONS))}.')
        specs = self.option_spec()
        self.require(opt, *(key for key, spec in specs.items() if spec.required is True), owner=type(self).__name__)
        for key, spec in specs.items():
            if key in opt and checked_by_dataset(spec):
                self.option_value(key, opt[key])
        self.opt = opt
        self.skip_bad_files = skip_bad_files
        fraction = self.option_value('max_bad_fraction', opt.get('max_bad_fraction', DEFAULT_MAX_BAD_FRACTION))
        count = self.option_value('max_bad_files', opt.get('max_bad_files', DEFAULT_MAX_BAD_FILES))
        self.max_bad_fraction = float(fraction)
        self.max_bad_files = int(count)
        self.bad_files = {}  # index -> reason, samples found unreadable by this process
        self.num_skipped = 0  # samples replaced by another one in this process
        self._rng = None
        self._rng_pid = None

    @property
    def bad_file_allowance(self):
        """How many unreadable files this dataset tolerates: max(max_bad_files, floor(max_bad_fraction * size))."""
        return max(self.max_bad_files, math.floor(self.max_bad_fraction * len(self)))

    @classmethod
    def option_spec(cls):
        """Every option a block of this dataset may hold for the dataset itself: its own and the bad-file ones."""
        return {**BAD_FILE_OPTIONS, **cls.OPTION_SPEC}

    @classmethod
    def option_problem(cls, key, value):
        """(`value` checked by the declared spec of option `key`, None), or (`value`, the sentence saying why it is
        refused), the one wording of the constructor's errors and of the options preflight."""
        checked, reason = problem_of(cls.option_spec()[key], value, key)
        if reason is None:
            return checked, None
        if key in BAD_FILE_OPTIONS:
            return value, f'Dataset option {key} {reason}.'
        return value, f'{cls.__name__} option {key!r} {reason}.'

    def option_value(self, key, value):
        """`value` of option `key` checked by its declared spec (normalised, e.g. a range as two floats); a
        ValueError with :meth:`option_problem`'s sentence when it is refused."""
        checked, problem = self.option_problem(key, value)
        if problem is not None:
            raise ValueError(problem)
        return checked

    @staticmethod
    def require(opt, *keys, owner):
        """Raise one clear error for the first missing required option."""
        for key in keys:
            if opt.get(key) is None:
                raise ValueError(f'{owner} needs the option {key!r} (see options/train_gfpgan_v1.yml).')

    def check_range(self, key, value, low=-math.inf, high=math.inf):
        """``value`` of option ``key`` as [lo, hi] floats with low <= lo <= hi <= high; None stays None (a
        range not declared in OPTION_SPEC; declared options go through :meth:`option_value`)."""
        checked, reason = problem_of(Range(low, high), value, key)
        if reason is not None:
            raise ValueError(f'{type(self).__name__} option {key!r} {reason}.')
        return checked

    def check_probability(self, key, value):
        """``value`` of option ``key`` as a number in [0, 1]; None stays None (see :meth:`check_range`)."""
        checked, reason = problem_of(Probability(), value, key)
        if reason is not None:
            raise ValueError(f'{type(self).__name__} option {key!r} {reason}.')
        return checked

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
        skipped = 0
        for _ in range(self.MAX_ATTEMPTS):
            try:
                sample = self.load(index)
            except (ImageReadError, OSError) as err:
                index = self._skip(index, err)
                skipped += 1
                continue
            if isinstance(sample, dict):
                sample['num_skipped'] = skipped
            return sample
        raise BadDataError(f'{self.MAX_ATTEMPTS} training images in a row could not be read; repair or remove the '
                           'files named in the warnings above.')

    def _skip(self, index, err):
        """Record a bad sample and choose a replacement among the indices not known to be bad."""
        if index not in self.bad_files:
            self.bad_files[index] = str(err)
            logger.warning('Skipping an unreadable training image (another one is used instead): %s', err)
        self.num_skipped += 1
        bad, size, allowed = len(self.bad_files), len(self), self.bad_file_allowance
        first = next(iter(self.bad_files.values())).rstrip('.')
        if bad >= size:
            raise BadDataError(f'None of the {size} training images could be read (first: {first}); check the '
                               'dataset path, its io_backend and its files.')
        if bad > allowed:
            raise BadDataError(
                f'{bad} of {size} training images could not be read, more than the {allowed} allowed by '
                f'max_bad_files={self.max_bad_files} / max_bad_fraction={self.max_bad_fraction:g} (first: {first}); '
                'repair or remove them, or raise max_bad_files in the dataset options.')
        while True:
            index = int(self.rng.integers(len(self)))
            if index not in self.bad_files:
                return index


class SkippedSampleCounter:
    """The training loop's tally of the ``num_skipped`` that batches carry from the data loader's workers, reported
    once an epoch as one log line and the TensorBoard scalar ``data/skipped_samples``, summed over every rank."""

    def __init__(self):
        self.count = 0  # an int, or a 0-d tensor on the batches' device: adding needs no synchronisation
        self.batches = 0  # equal on every rank, so that every rank takes part in the same reductions

    def add(self, batch):
        """Count the skips behind ``batch`` (a dict; those without ``num_skipped`` add none)."""
        self.batches += 1
        if isinstance(batch, dict) and 'num_skipped' in batch:
            self.count = self.count + torch.as_tensor(batch['num_skipped']).sum()

    def report(self, epoch, current_iter, log=None, tb_logger=None):
        """Log and return the epoch's skipped samples over all ranks, then start counting again; nothing (None)
        when no batch came since the last report. Every rank must call it at the same iteration."""
        if not self.batches:
            return None
        total = round(reduce_loss_dict({'skipped': self.count})['skipped'] * get_dist_info()[1])
        self.count, self.batches = 0, 0
        if total:
            (log or logger).warning('Epoch %d: %d samples skipped (unreadable files).', epoch, total)
        if tb_logger is not None:
            tb_logger.add_scalar('data/skipped_samples', total, current_iter)
        return total
