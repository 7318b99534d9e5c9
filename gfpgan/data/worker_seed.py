"""Seeding of DataLoader worker processes: distinct, reproducible random streams per worker and epoch."""
import random

import numpy as np
import torch
import torch.utils.data

_MASK64 = 2**64 - 1


def worker_seeds(seed, rank, worker_id, base_seed):
    """Return `(torch_seed, numpy_seed, python_seed)` of one worker, mixed by numpy's SeedSequence.

    The entropy is the run's `seed` and the DataLoader iterator's `base_seed`; `(rank, worker_id)` is the
    spawn key, so two workers or two ranks never share a stream. The three seeds are distinct draws, so
    `random` and `numpy.random` (both Mersenne Twisters) do not produce the same sequence.
    """
    sequence = np.random.SeedSequence([int(seed) & _MASK64, int(base_seed) & _MASK64],
                                      spawn_key=(int(rank), int(worker_id)))
    words = sequence.generate_state(3, np.uint64)
    return int(words[0]), int(words[1]) & 0xFFFFFFFF, int(words[2])


def worker_init_fn(worker_id, num_workers, rank, seed):
    """Seed `torch`, `numpy.random` and `random` in a DataLoader worker; bind all but `worker_id` with partial.

    Mixes (seed, rank, worker_id) with the base seed the DataLoader drew from the main torch RNG for this
    iterator: streams differ across workers, ranks and fresh iterators (epochs without persistent workers),
    and repeat under the same `torch.manual_seed`. Datasets must make their numpy Generator lazily, per
    process, from `torch.initial_seed()`, which in a worker is the seed set here.
    """
    if not 0 <= worker_id < max(num_workers, 1):
        raise ValueError(f'worker_id {worker_id} is out of range for num_workers={num_workers}.')
    info = torch.utils.data.get_worker_info()
    base_seed = info.seed - info.id if info is not None else torch.initial_seed() - worker_id
    torch_seed, numpy_seed, python_seed = worker_seeds(seed, rank, worker_id, base_seed)
    torch.manual_seed(torch_seed)
    np.random.seed(numpy_seed)
    random.seed(python_seed)
