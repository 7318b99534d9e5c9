"""Sampler, worker seeding, prefetchers and DataLoader options, on tiny in-test datasets."""
import math
import os
import random
import subprocess
import sys
import textwrap
import threading
from collections import Counter

import numpy as np
import pytest
import torch
from torch.utils.data import Dataset, RandomSampler, SequentialSampler

from gfpgan.data.loader import build_dataloader
from gfpgan.data.prefetch import CUDAPrefetcher, PlainPrefetcher, ThreadPrefetcher, build_prefetcher, map_tensors
from gfpgan.data.sampler import EnlargedSampler
from gfpgan.data.worker_seed import worker_init_fn, worker_seeds

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
requires_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason='needs a CUDA device')


class Indices(Dataset):
    """Returns its index; raises at `fail_at` to test error propagation."""

    def __init__(self, size, fail_at=None):
        self.size = size
        self.fail_at = fail_at

    def __len__(self):
        return self.size

    def __getitem__(self, index):
        if index == self.fail_at:
            raise KeyError(f'bad sample {index}')
        return index


class RandomDraws(Dataset):
    """Index, pid and draws from every RNG; the numpy Generator is made lazily per process, like the project's."""

    def __init__(self, size):
        self.size = size
        self._rng = None
        self._pid = None

    def __len__(self):
        return self.size

    def __getitem__(self, index):
        if self._pid != os.getpid():
            self._rng = np.random.default_rng(torch.initial_seed())
            self._pid = os.getpid()
        draws = [self._rng.random(), np.random.random(), random.random(), torch.rand(()).item()]
        return {'index': index, 'pid': os.getpid(), 'draws': torch.tensor(draws, dtype=torch.float64)}


def train_opt(**changes):
    """Options of a train dataset with 2 workers and batch 2."""
    opt = {'phase': 'train', 'batch_size_per_gpu': 2, 'num_worker_per_gpu': 2, 'use_shuffle': True}
    opt.update(changes)
    return opt


# ---------------------------------------------------------------- sampler


@pytest.mark.parametrize('ratio', [1, 3])
@pytest.mark.parametrize('replicas', [1, 2, 3])
def test_sampler_ranks_cover_the_enlarged_epoch(ratio, replicas):
    size = 7
    samplers = [EnlargedSampler(Indices(size), replicas, rank, ratio=ratio, seed=11) for rank in range(replicas)]
    num_samples = math.ceil(size * ratio / replicas)
    total = num_samples * replicas
    for sampler in samplers:
        sampler.set_epoch(3)
        assert len(sampler) == num_samples
        assert sampler.total_size == total and total % replicas == 0
    shares = [list(sampler) for sampler in samplers]
    assert all(len(share) == num_samples for share in shares)
    assert all(0 <= index < size for share in shares for index in share)
    # together the ranks read position p -> p % size for every position of the epoch, each exactly once
    assert Counter(index for share in shares for index in share) == Counter(p % size for p in range(total))


@pytest.mark.parametrize('replicas', [2, 3])
def test_sampler_ranks_are_disjoint(replicas):
    shares = [set(EnlargedSampler(Indices(6), replicas, rank, seed=4)) for rank in range(replicas)]
    for a in range(replicas):
        for b in range(a + 1, replicas):
            assert not shares[a] & shares[b]
    assert set().union(*shares) == set(range(6))


def test_sampler_without_shuffle_is_ordered():
    assert list(EnlargedSampler(Indices(5), 1, 0, ratio=2, shuffle=False)) == [0, 1, 2, 3, 4] * 2
    assert list(EnlargedSampler(Indices(5), 2, 1, ratio=1, shuffle=False)) == [1, 3, 0]  # padded to 6 positions


def test_sampler_set_epoch_reshuffles_deterministically():

    def order(epoch, seed=0, rank=0):
        sampler = EnlargedSampler(Indices(50), 2, rank, seed=seed)
        sampler.set_epoch(epoch)
        return list(sampler)

    assert order(0) == order(0) and order(5, rank=1) == order(5, rank=1)
    assert order(0) != order(1)
    assert order(0, seed=0) != order(0, seed=1)
    assert sorted(order(2)) != order(2)  # shuffled
    assert list(EnlargedSampler(Indices(50), 2, 0, seed=0)) == order(0)  # epoch 0 until set_epoch is called


@pytest.mark.parametrize('kwargs, match', [
    (dict(num_replicas=0), 'num_replicas'),
    (dict(rank=2), 'rank'),
    (dict(rank=-1), 'rank'),
    (dict(ratio=0), 'ratio'),
    (dict(ratio=1.5), 'ratio'),
    (dict(ratio=True), 'ratio'),
    (dict(seed='1'), 'seed'),
    (dict(shuffle=1), 'shuffle'),
])
def test_sampler_rejects_bad_arguments(kwargs, match):
    args = dict(dataset=Indices(4), num_replicas=2, rank=0)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        EnlargedSampler(**args)


def test_sampler_rejects_empty_dataset_and_bad_epoch():
    with pytest.raises(ValueError, match='empty dataset'):
        EnlargedSampler(Indices(0), 1, 0)
    with pytest.raises(ValueError, match='epoch'):
        EnlargedSampler(Indices(3), 1, 0).set_epoch(-1)


# ---------------------------------------------------------------- worker seeding


def test_worker_seeds_are_distinct_and_deterministic():
    seeds = {worker_seeds(0, rank, worker, base_seed=123) for rank in range(4) for worker in range(4)}
    assert len(seeds) == 16
    assert worker_seeds(0, 0, 0, 123) == worker_seeds(0, 0, 0, 123)
    assert worker_seeds(0, 0, 0, 123) != worker_seeds(0, 0, 0, 124)  # a new iterator, a new stream
    assert worker_seeds(0, 1, 0, 123) != worker_seeds(4, 0, 0, 123)  # BasicSR's seed + rank * 4 collided here
    for torch_seed, numpy_seed, python_seed in seeds:
        assert 0 <= torch_seed < 2**64 and 0 <= numpy_seed < 2**32 and 0 <= python_seed < 2**64


def test_worker_init_fn_separates_ranks():
    """Outside a worker the base seed is the main process's: only the rank differs between the two calls."""

    def draws(rank):
        with torch.random.fork_rng(devices=[]):
            np_state, py_state = np.random.get_state(), random.getstate()
            torch.manual_seed(7)
            worker_init_fn(0, num_workers=2, rank=rank, seed=3)
            result = (torch.rand(()).item(), np.random.random(), random.random(), torch.initial_seed())
            np.random.set_state(np_state)
            random.setstate(py_state)
        return result

    assert draws(0) == draws(0)
    assert all(a != b for a, b in zip(draws(0), draws(1)))
    with pytest.raises(ValueError, match='worker_id'):
        worker_init_fn(2, num_workers=2, rank=0, seed=0)


def run_epochs(persistent, epochs=2, manual_seed=123, seed=5):
    """Draws (index -> draws) and worker pids of each epoch of a seeded 2-worker loader."""
    torch.manual_seed(manual_seed)
    loader = build_dataloader(RandomDraws(8), train_opt(persistent_workers=persistent), seed=seed)
    result = []
    for _ in range(epochs):
        batches = list(loader)
        draws = {int(i): tuple(d.tolist()) for b in batches for i, d in zip(b['index'], b['draws'])}
        pids = {int(p) for b in batches for p in b['pid']}
        result.append((draws, pids))
    return result


@pytest.mark.parametrize('persistent', [False, True])
def test_seeded_workers_reproduce_and_never_repeat(persistent):
    first, second = run_epochs(persistent), run_epochs(persistent)
    assert [draws for draws, _ in first] == [draws for draws, _ in second]  # same manual_seed, same batches
    (epoch1, pids1), (epoch2, pids2) = first
    assert len(pids1) == 2 and os.getpid() not in pids1
    assert (pids1 == pids2) == persistent  # persistent workers survive the epoch; others are restarted
    values = [value for epoch in (epoch1, epoch2) for draws in epoch.values() for value in draws]
    assert len(set(values)) == len(values)  # no two workers, samples or epochs share random numbers
    assert run_epochs(persistent, epochs=1, seed=6)[0][0] != epoch1  # the option seed matters


def test_manual_seed_changes_the_worker_streams():
    assert run_epochs(False, epochs=1, manual_seed=1)[0][0] != run_epochs(False, epochs=1, manual_seed=2)[0][0]


# ---------------------------------------------------------------- prefetchers


def index_loader(size=7, batch_size=2, fail_at=None):
    """In-order, single-process loader of the index dataset."""
    opt = dict(train_opt(batch_size_per_gpu=batch_size, num_worker_per_gpu=0, use_shuffle=False))
    return build_dataloader(Indices(size, fail_at), opt)


def drain(prefetcher):
    """Batches of one epoch as lists, until the prefetcher returns None."""
    batches = []
    while (batch := prefetcher.next()) is not None:
        batches.append(batch.tolist())
    return batches


EXPECTED = [[0, 1], [2, 3], [4, 5]]  # 7 samples, batch 2, last one dropped


@pytest.mark.parametrize('opt', [{}, {'prefetch_mode': 'cpu'}, {'prefetch_mode': 'cpu', 'num_prefetch_queue': 3}])
def test_prefetchers_yield_the_epoch_then_none_and_reset(opt):
    prefetcher = build_prefetcher(index_loader(), opt)
    assert isinstance(prefetcher, ThreadPrefetcher if opt else PlainPrefetcher)
    assert drain(prefetcher) == EXPECTED
    assert prefetcher.next() is None
    prefetcher.reset()
    assert drain(prefetcher) == EXPECTED
    prefetcher.next()
    prefetcher.reset()  # in the middle of an epoch
    assert drain(prefetcher) == EXPECTED
    prefetcher.close()
    assert prefetcher.next() is None


def test_thread_prefetcher_reraises_the_loader_exception():
    prefetcher = build_prefetcher(index_loader(fail_at=4), {'prefetch_mode': 'cpu', 'num_prefetch_queue': 2})
    assert prefetcher.next().tolist() == [0, 1]
    assert prefetcher.next().tolist() == [2, 3]
    with pytest.raises(KeyError, match='bad sample 4'):
        prefetcher.next()
    assert prefetcher.next() is None
    prefetcher.close()


def test_thread_prefetcher_with_persistent_workers_stops_its_thread():
    torch.manual_seed(0)
    loader = build_dataloader(RandomDraws(6), train_opt(num_worker_per_gpu=1, use_shuffle=False), seed=0)
    prefetcher = ThreadPrefetcher(loader, num_prefetch_queue=2)
    first = prefetcher.next()
    prefetcher.reset()  # stops the running thread before the persistent iterator is reset
    epoch = []
    while (batch := prefetcher.next()) is not None:
        epoch.append(batch['index'].tolist())
    assert first['index'].tolist() == [0, 1] and epoch == [[0, 1], [2, 3], [4, 5]]
    prefetcher.close()
    assert not [t for t in threading.enumerate() if t.name == 'gfpgan-prefetch']


def test_thread_prefetcher_does_not_block_interpreter_exit():
    script = textwrap.dedent('''
        import torch
        from torch.utils.data import DataLoader
        from gfpgan.data.prefetch import ThreadPrefetcher

        loader = DataLoader(list(range(10000)), batch_size=1, num_workers=1)
        prefetcher = ThreadPrefetcher(loader, num_prefetch_queue=1)
        print(prefetcher.next().tolist())
    ''')
    done = subprocess.run([sys.executable, '-c', script], cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == '[0]'


def test_build_prefetcher_rejects_unknown_mode_and_bad_queue():
    with pytest.raises(ValueError, match=r"prefetch_mode must be one of ~ \(none\), 'cpu', 'cuda', got 'gpu'"):
        build_prefetcher(index_loader(), {'prefetch_mode': 'gpu'})
    with pytest.raises(ValueError, match='num_prefetch_queue'):
        build_prefetcher(index_loader(), {'prefetch_mode': 'cpu', 'num_prefetch_queue': 0})


def test_cuda_prefetcher_needs_pinned_memory():
    with pytest.raises(ValueError, match='pin_memory: true'):
        build_prefetcher(index_loader(), {'prefetch_mode': 'cuda'})
    with pytest.raises(ValueError, match='pin_memory: true'):
        build_prefetcher([torch.zeros(1)], {'prefetch_mode': 'cuda', 'pin_memory': False})


@pytest.mark.skipif(torch.cuda.is_available(), reason='checks the message shown without CUDA')
def test_cuda_prefetcher_without_cuda_says_so():
    loader = build_dataloader(Indices(4), train_opt(num_worker_per_gpu=0, prefetch_mode='cuda'))
    assert loader.pin_memory
    with pytest.raises(RuntimeError, match='needs a CUDA device'):
        build_prefetcher(loader, {'prefetch_mode': 'cuda'})


def test_map_tensors_keeps_structure_and_non_tensors():
    batch = {'lq': torch.ones(1), 'meta': [torch.zeros(2), 'path.png', (torch.ones(1), 3)], 'name': 'a'}
    doubled = map_tensors(batch, lambda t: t * 2)
    assert doubled['lq'].tolist() == [2.0] and doubled['meta'][0].tolist() == [0.0, 0.0]
    assert doubled['meta'][1] == 'path.png' and doubled['meta'][2][1] == 3 and doubled['name'] == 'a'
    assert isinstance(doubled['meta'][2], tuple)


class NestedBatches(Dataset):
    """Samples with nested tensors and strings, for the CUDA prefetcher."""

    def __len__(self):
        return 4

    def __getitem__(self, index):
        return {'lq': torch.full((3, 2, 2), float(index)), 'loc': [torch.tensor([index]), 'eye'], 'path': f'{index}'}


@requires_cuda
def test_cuda_prefetcher_moves_nested_tensors():
    loader = build_dataloader(NestedBatches(), train_opt(num_worker_per_gpu=0, use_shuffle=False, prefetch_mode='cuda'))
    prefetcher = build_prefetcher(loader, {'prefetch_mode': 'cuda'})
    assert isinstance(prefetcher, CUDAPrefetcher)
    for _ in range(2):
        batches = []
        while (batch := prefetcher.next()) is not None:
            assert batch['lq'].is_cuda and batch['loc'][0].is_cuda and batch['loc'][1] == ['eye', 'eye']
            batches.append((batch['lq'][:, 0, 0, 0].tolist(), batch['path']))
        assert batches == [([0.0, 1.0], ['0', '1']), ([2.0, 3.0], ['2', '3'])]
        prefetcher.reset()


# ---------------------------------------------------------------- build_dataloader


@pytest.mark.filterwarnings('ignore:This DataLoader will create')
def test_train_loader_options():
    loader = build_dataloader(Indices(20), train_opt(prefetch_factor=3), seed=1)
    assert loader.batch_size == 2 and loader.drop_last and isinstance(loader.sampler, RandomSampler)
    assert loader.num_workers == 2 and loader.persistent_workers and loader.prefetch_factor == 3
    assert not loader.pin_memory
    assert loader.worker_init_fn.keywords == {'num_workers': 2, 'rank': 0, 'seed': 1}
    assert build_dataloader(Indices(20), train_opt()).worker_init_fn is None

    multi = build_dataloader(Indices(20), train_opt(), num_gpu=2)  # one process, two GPUs: BasicSR doubles both
    assert multi.batch_size == 4 and multi.num_workers == 4
    per_rank = build_dataloader(Indices(20), train_opt(), num_gpu=2, dist=True)
    assert per_rank.batch_size == 2 and per_rank.num_workers == 2
    assert build_dataloader(Indices(20), train_opt(), num_gpu=0).batch_size == 2

    sampler = EnlargedSampler(Indices(20), 1, 0)
    assert build_dataloader(Indices(20), train_opt(), sampler=sampler).sampler is sampler
    assert isinstance(build_dataloader(Indices(20), train_opt(use_shuffle=False)).sampler, SequentialSampler)
    no_workers = build_dataloader(Indices(20), train_opt(num_worker_per_gpu=0, persistent_workers=True), seed=1)
    assert no_workers.num_workers == 0 and not no_workers.persistent_workers and no_workers.worker_init_fn is None
    assert not build_dataloader(Indices(20), train_opt(persistent_workers=False)).persistent_workers
    assert build_dataloader(Indices(20), train_opt(prefetch_mode='cuda')).pin_memory
    no_phase = {k: v for k, v in train_opt().items() if k != 'phase'}
    assert build_dataloader(Indices(20), no_phase).drop_last


@pytest.mark.parametrize('phase', ['val', 'test', 'val_1'])
def test_val_loader_options(phase):
    loader = build_dataloader(Indices(5), {'phase': phase, 'batch_size_per_gpu': 8}, num_gpu=2)
    assert loader.batch_size == 1 and not loader.drop_last and isinstance(loader.sampler, SequentialSampler)
    assert loader.num_workers == 0
    assert [int(b) for b in loader] == [0, 1, 2, 3, 4]
    assert build_dataloader(Indices(5), {'phase': phase, 'num_worker_per_gpu': 1}).num_workers == 1
    assert build_dataloader(Indices(5), {}).batch_size == 1  # neither phase nor batch size: validation


@pytest.mark.parametrize('changes, match', [
    (dict(batch_size_per_gpu=0), 'batch_size_per_gpu'),
    (dict(batch_size_per_gpu='4'), 'batch_size_per_gpu'),
    (dict(batch_size_per_gpu=True), 'batch_size_per_gpu'),
    (dict(batch_size_per_gpu=None), 'batch_size_per_gpu is required'),
    (dict(num_worker_per_gpu=-1), 'num_worker_per_gpu'),
    (dict(num_worker_per_gpu=1.0), 'num_worker_per_gpu'),
    (dict(use_shuffle='yes'), 'use_shuffle'),
    (dict(pin_memory=1), 'pin_memory'),
    (dict(persistent_workers='true'), 'persistent_workers'),
    (dict(prefetch_factor=0), 'prefetch_factor'),
    (dict(phase='training'), 'phase'),
    (dict(prefetch_mode='gpu'), 'prefetch_mode'),
    (dict(prefetch_mode='cpu', num_prefetch_queue=0), 'num_prefetch_queue'),
    (dict(prefetch_mode='cuda', pin_memory=False), 'pin_memory must be true'),
])
def test_build_dataloader_rejects_bad_options(changes, match):
    with pytest.raises(ValueError, match=match):
        build_dataloader(Indices(4), train_opt(**changes))


def test_build_dataloader_rejects_bad_arguments():
    with pytest.raises(ValueError, match='num_gpu'):
        build_dataloader(Indices(4), train_opt(), num_gpu=-1)
    with pytest.raises(ValueError, match='seed'):
        build_dataloader(Indices(4), train_opt(), seed='0')


def test_prefetcher_and_sampler_take_their_bounds_from_the_declarations(monkeypatch):
    from gfpgan.config.spec import Value
    from gfpgan.data.loader import LOADER_OPTIONS
    from gfpgan.data.prefetch import PREFETCH_MODES, PREFETCH_OPTIONS, check_prefetch_options
    assert PREFETCH_MODES == (None, ) + PREFETCH_OPTIONS['prefetch_mode'].choices
    monkeypatch.setitem(PREFETCH_OPTIONS, 'num_prefetch_queue', Value('int', minimum=2))
    with pytest.raises(ValueError, match='num_prefetch_queue must be an integer >= 2, got 1'):
        ThreadPrefetcher([1, 2], 1)
    with pytest.raises(ValueError, match='num_prefetch_queue must be an integer >= 2, got 1'):
        check_prefetch_options({'num_prefetch_queue': 1})
    monkeypatch.setitem(LOADER_OPTIONS, 'dataset_enlarge_ratio', Value('int', minimum=2))
    with pytest.raises(ValueError, match=r'ratio \(dataset_enlarge_ratio\) must be an integer >= 2, got 1'):
        EnlargedSampler(list(range(4)), 1, 0, ratio=1)
