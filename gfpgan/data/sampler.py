"""Distributed sampler that enlarges an epoch, BasicSR's `dataset_enlarge_ratio`.

Iteration-based training restarts the DataLoader (and, without persistent workers, its worker
processes) at every epoch; visiting the dataset `ratio` times per epoch makes those restarts rare.
"""
import math

import numpy as np
import torch
from torch.utils.data.sampler import Sampler

from gfpgan.utils.validation import is_int

from .loader import LOADER_OPTIONS


def epoch_seed(seed, epoch):
    """64-bit seed of the shuffle of one epoch, mixed from (seed, epoch) so nearby pairs do not collide."""
    entropy = [int(seed) % 2**64, int(epoch) % 2**64]
    return int(np.random.SeedSequence(entropy).generate_state(1, np.uint64)[0])


def sample_seed(seed, epoch, position):
    """64-bit seed of the sample at ``position`` of an epoch's order: the same on any rank, worker or resume."""
    entropy = [int(seed) % 2**64, int(epoch) % 2**64, int(position)]
    return int(np.random.SeedSequence(entropy).generate_state(1, np.uint64)[0])


class EnlargedSampler(Sampler):
    """Indices of one rank's share of an epoch that visits the dataset `ratio` times.

    The epoch's positions (padded to a multiple of `num_replicas`) are permuted by a generator seeded from
    (seed, epoch), the same on every rank; rank `r` takes positions `r::num_replicas` and reads `p % len`.
    With `sample_seeds`, it yields `(index, seed)` pairs instead, each sample's seed derived from (seed, epoch,
    position), so that the data of a run does not depend on worker count or on resuming (the project's datasets
    take such pairs). `skip(n)` drops this rank's first `n` samples of the next epoch, for resuming mid-epoch.
    """

    def __init__(self, dataset, num_replicas, rank, ratio=1, shuffle=True, seed=0, sample_seeds=False):
        if not is_int(num_replicas) or num_replicas < 1:
            raise ValueError(f'EnlargedSampler num_replicas must be an integer >= 1, got {num_replicas!r}.')
        if not is_int(rank) or not 0 <= rank < num_replicas:
            raise ValueError(f'EnlargedSampler rank must be an integer in [0, {num_replicas}), got {rank!r}.')
        least = LOADER_OPTIONS['dataset_enlarge_ratio'].minimum
        if not is_int(ratio) or ratio < least:
            raise ValueError(
                f'EnlargedSampler ratio (dataset_enlarge_ratio) must be an integer >= {least}, got {ratio!r}.')
        if not isinstance(shuffle, bool):
            raise ValueError(f'EnlargedSampler shuffle must be true or false, got {shuffle!r}.')
        if not is_int(seed):
            raise ValueError(f'EnlargedSampler seed must be an integer, got {seed!r}.')
        dataset_size = len(dataset)
        if dataset_size == 0:
            raise ValueError('EnlargedSampler got an empty dataset: check its data root and meta info file.')
        self.dataset = dataset
        self.dataset_size = dataset_size
        self.num_replicas = int(num_replicas)
        self.rank = int(rank)
        self.ratio = int(ratio)
        self.shuffle = shuffle
        self.seed = int(seed)
        self.epoch = 0
        self.sample_seeds = bool(sample_seeds)
        self._skip = 0
        self.num_samples = math.ceil(dataset_size * self.ratio / self.num_replicas)
        self.total_size = self.num_samples * self.num_replicas

    def __iter__(self):
        if self.shuffle:
            generator = torch.Generator()
            generator.manual_seed(epoch_seed(self.seed, self.epoch))
            positions = torch.randperm(self.total_size, generator=generator)
        else:
            positions = torch.arange(self.total_size)
        positions = positions[self.rank::self.num_replicas][self._skip:].tolist()
        self._skip = 0
        indices = [p % self.dataset_size for p in positions]
        if self.sample_seeds:
            return iter([(i, sample_seed(self.seed, self.epoch, p)) for i, p in zip(indices, positions)])
        return iter(indices)

    def skip(self, count):
        """Leave out this rank's first ``count`` samples of the next iteration over the sampler (once)."""
        if not is_int(count) or not 0 <= count <= self.num_samples:
            raise ValueError(f'EnlargedSampler can skip 0 to {self.num_samples} samples, got {count!r}.')
        self._skip = int(count)

    def __len__(self):
        return self.num_samples

    def set_epoch(self, epoch):
        """Select the shuffle of `epoch`; every rank must call it with the same value."""
        if not is_int(epoch) or epoch < 0:
            raise ValueError(f'EnlargedSampler epoch must be an integer >= 0, got {epoch!r}.')
        self.epoch = int(epoch)
