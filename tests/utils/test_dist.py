"""Distributed helpers: a real two-process gloo group on the CPU (ranks, reductions, options), SLURM variables
from a fake environment, launcher checks, and the single-process fallbacks."""
import json
import os
import socket
import stat

import pytest
import torch
import torch.multiprocessing as mp

from gfpgan.utils import dist as dist_util
from gfpgan.utils.dist import (all_gather_object, any_rank_each, barrier, broadcast_object, destroy, get_dist_info,
                               init_dist, is_main_process, master_only, reduce_loss_dict, reduce_mean, slurm_env)

SMALL_OPTIONS = """\
name: dist_check
model_type: GFPGANModel
num_gpu: 0
datasets:
  train:
    type: FFHQDegradationDataset
    batch_size_per_gpu: 1
network_g:
  type: GFPGANv1Clean
  out_size: 512
train:
  total_iter: 10
logger:
  print_freq: 1
  save_checkpoint_freq: 5
"""


def _free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


@master_only
def _rank_zero_value():
    return 'ran'


def _worker(rank, world_size, port, folder):
    """One process of the group: joins through env:// as torchrun would set it up, records what it sees."""
    from gfpgan.config.validation import load_options
    os.environ.update(
        RANK=str(rank),
        WORLD_SIZE=str(world_size),
        LOCAL_RANK=str(rank),
        MASTER_ADDR='127.0.0.1',
        MASTER_PORT=str(port))
    torch.set_num_threads(1)
    joined = init_dist('pytorch', backend='gloo')
    opt = load_options(os.path.join(folder, 'small.yml'), root_path=folder)  # no manual_seed: drawn, then shared
    result = {
        'joined': list(joined),
        'info': list(get_dist_info()),
        'main': is_main_process(),
        'mean': reduce_mean(torch.tensor([2.0 * rank, 10.0])).tolist(),
        'losses': reduce_loss_dict({
            'l_g_pix': torch.tensor(rank + 1.0),
            'l_d': 3.0
        }),
        'broadcast': broadcast_object({'from': rank}),
        'gathered': all_gather_object({'from': rank}),
        'any_each': any_rank_each(torch.tensor([rank == 1, False, True])),
        'master_only': _rank_zero_value(),
        'opt': [opt['dist'], opt['rank'], opt['world_size'], opt['manual_seed']],
    }
    barrier()
    destroy()
    result['after'] = list(get_dist_info())
    with open(os.path.join(folder, f'rank{rank}.json'), 'w') as f:
        json.dump(result, f)


def test_two_process_gloo_group(tmp_path):
    (tmp_path / 'small.yml').write_text(SMALL_OPTIONS)
    mp.spawn(_worker, args=(2, _free_port(), str(tmp_path)), nprocs=2, join=True)
    results = [json.loads((tmp_path / f'rank{r}.json').read_text()) for r in range(2)]
    for rank, result in enumerate(results):
        assert result['joined'] == result['info'] == [rank, 2] and result['main'] == (rank == 0)
        assert result['mean'] == [1.0, 10.0]
        assert result['losses'] == {'l_g_pix': 1.5, 'l_d': 3.0}
        assert result['broadcast'] == {'from': 0}
        assert result['gathered'] == [{'from': 0}, {'from': 1}]
        assert result['any_each'] == [True, False, True]  # a flag raised on rank 1 only is seen by both
        assert result['master_only'] == ('ran' if rank == 0 else None)
        assert result['opt'][:3] == [True, rank, 2]
        assert result['after'] == [0, 1]
    assert results[0]['opt'][3] == results[1]['opt'][3]  # one seed for the whole group


@pytest.fixture
def no_launcher_env(monkeypatch):
    for key in ('RANK', 'WORLD_SIZE', 'LOCAL_RANK', 'MASTER_ADDR', 'MASTER_PORT', 'SLURM_PROCID', 'SLURM_NTASKS',
                'SLURM_NODELIST', 'SLURM_LOCALID'):
        monkeypatch.delenv(key, raising=False)


def _fake_scontrol(folder):
    """An `scontrol` that prints two hosts derived from the node list it is given."""
    script = folder / 'scontrol'
    script.write_text('#!/bin/sh\necho "first-of-$3"\necho second\n')
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return str(folder)


def test_slurm_env_from_a_fake_allocation(tmp_path, monkeypatch, no_launcher_env):
    monkeypatch.setenv('PATH', _fake_scontrol(tmp_path))
    environ = {'SLURM_PROCID': '5', 'SLURM_NTASKS': '8', 'SLURM_NODELIST': 'gpu[03-04]', 'SLURM_LOCALID': '1'}
    assert slurm_env(environ) == {
        'RANK': '5',
        'WORLD_SIZE': '8',
        'LOCAL_RANK': '1',
        'MASTER_ADDR': 'first-of-gpu[03-04]',
        'MASTER_PORT': '29500'
    }
    assert slurm_env(dict(environ, MASTER_PORT='1234'))['MASTER_PORT'] == '1234'
    assert slurm_env(dict(environ, MASTER_PORT='1234'), port=4321)['MASTER_PORT'] == '4321'


def test_slurm_env_without_scontrol_reads_the_node_list(tmp_path, monkeypatch, no_launcher_env):
    monkeypatch.setenv('PATH', str(tmp_path))  # no scontrol here
    for nodelist, first in (('gpu[03-05,9],cpu1', 'gpu03'), ('node7,node8', 'node7'), ('host', 'host')):
        env = slurm_env({'SLURM_PROCID': '0', 'SLURM_NTASKS': '2', 'SLURM_NODELIST': nodelist})
        assert env['MASTER_ADDR'] == first
    env = slurm_env({'SLURM_PROCID': '3', 'SLURM_NTASKS': '4', 'SLURM_NODELIST': 'n1'})
    assert env['LOCAL_RANK'] == str(3 % max(torch.cuda.device_count(), 1))


def test_slurm_env_names_a_missing_variable(no_launcher_env):
    with pytest.raises(ValueError, match='SLURM_NODELIST.*srun'):
        slurm_env({'SLURM_PROCID': '0', 'SLURM_NTASKS': '2'})
    with pytest.raises(ValueError, match='SLURM_PROCID'):
        init_dist('slurm')


def test_launcher_validation(no_launcher_env, monkeypatch):
    for launcher in ('none', 'mpi', None):
        with pytest.raises(ValueError, match="Unknown launcher.*'pytorch'.*'slurm'"):
            init_dist(launcher)
    with pytest.raises(ValueError, match='RANK.*torchrun'):
        init_dist('pytorch')
    if not torch.cuda.is_available():
        monkeypatch.setenv('RANK', '0')
        monkeypatch.setenv('WORLD_SIZE', '1')
        monkeypatch.setenv('MASTER_ADDR', '127.0.0.1')
        monkeypatch.setenv('MASTER_PORT', str(_free_port()))
        with pytest.raises(ValueError, match="'nccl' needs CUDA"):
            init_dist('pytorch', backend='nccl')
    assert not torch.distributed.is_initialized()


def test_single_process_fallbacks():
    assert get_dist_info() == (0, 1) and is_main_process()
    tensor = torch.tensor([1.0, 2.0])
    assert reduce_mean(tensor) is tensor
    assert reduce_loss_dict({'l_a': torch.tensor(0.25), 'b': 2}) == {'l_a': 0.25, 'b': 2.0}
    assert reduce_loss_dict({}) == {}
    assert broadcast_object([1]) == [1] and _rank_zero_value() == 'ran'
    assert all_gather_object({'a': 1}) == [{'a': 1}] and any_rank_each([True, False]) == [True, False]
    barrier()
    destroy()


def test_master_only_skips_other_ranks(monkeypatch):
    monkeypatch.setattr(dist_util, 'get_dist_info', lambda: (1, 2))
    assert not is_main_process() and _rank_zero_value() is None
