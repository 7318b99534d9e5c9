"""Distributed training through torch.distributed: process-group start-up for torchrun /
``torch.distributed.launch`` (env://) and SLURM, rank queries, and the collectives the training loop needs."""
import functools
import os
import re
import subprocess

import torch
import torch.distributed as dist

__all__ = [
    'LAUNCHERS', 'init_dist', 'slurm_env', 'get_dist_info', 'is_main_process', 'master_only', 'reduce_mean', 'any_rank',
    'any_rank_each', 'reduce_loss_dict', 'broadcast_object', 'all_gather_object', 'barrier', 'destroy'
]

LAUNCHERS = ('pytorch', 'slurm')
DEFAULT_PORT = 29500  # torch.distributed's own default
ENV_KEYS = ('RANK', 'WORLD_SIZE', 'MASTER_ADDR', 'MASTER_PORT')


def _first_slurm_host(nodelist):
    """First host name of a SLURM node list: `scontrol show hostname`, or a parser of the compact syntax."""
    try:
        out = subprocess.run(['scontrol', 'show', 'hostname', nodelist], capture_output=True, text=True, timeout=30)
        hosts = out.stdout.split()
        if out.returncode == 0 and hosts:
            return hosts[0]
    except (OSError, subprocess.SubprocessError):
        pass
    # 'gpu[03-05,9],cpu1' -> 'gpu03': the prefix and the first number of the first range, zero padding kept
    match = re.match(r'([^,\[]+)(?:\[([^\],-]+))?', nodelist.strip())
    if not match:
        raise ValueError(f'Cannot read the first host of SLURM_NODELIST {nodelist!r}.')
    return match.group(1) + (match.group(2) or '')


def slurm_env(environ=None, port=None):
    """RANK / WORLD_SIZE / LOCAL_RANK / MASTER_ADDR / MASTER_PORT of this SLURM task, from SLURM_PROCID,
    SLURM_NTASKS, SLURM_LOCALID and SLURM_NODELIST; the port is `port`, else MASTER_PORT, else 29500."""
    environ = os.environ if environ is None else environ
    missing = [key for key in ('SLURM_PROCID', 'SLURM_NTASKS', 'SLURM_NODELIST') if not environ.get(key)]
    if missing:
        raise ValueError(f"--launcher slurm needs the environment variable {missing[0]}, which srun sets: start the "
                         'job with `srun python train.py ... --launcher slurm`.')
    rank = int(environ['SLURM_PROCID'])
    if 'SLURM_LOCALID' in environ:
        local_rank = int(environ['SLURM_LOCALID'])
    else:
        local_rank = rank % max(torch.cuda.device_count(), 1)
    return {
        'RANK': str(rank),
        'WORLD_SIZE': str(int(environ['SLURM_NTASKS'])),
        'LOCAL_RANK': str(local_rank),
        'MASTER_ADDR': _first_slurm_host(environ['SLURM_NODELIST']),
        'MASTER_PORT': str(port if port is not None else environ.get('MASTER_PORT', DEFAULT_PORT)),
    }


def init_dist(launcher, backend=None, port=None, local_rank=None):
    """Join the default process group; returns (rank, world_size).

    'pytorch': RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT (and LOCAL_RANK) come from torchrun or
    ``torch.distributed.launch``; 'slurm': they are derived by `slurm_env` (`port` applies here only). The
    backend defaults to 'nccl' with CUDA, else 'gloo'. With CUDA, the current device becomes the local rank
    (`local_rank`, else LOCAL_RANK, else rank modulo the device count).
    """
    if launcher not in LAUNCHERS:
        raise ValueError(f"Unknown launcher {launcher!r}: use 'pytorch' (torchrun, torch.distributed.launch) or "
                         "'slurm' (srun); 'none' runs a single process and needs no init_dist.")
    if not dist.is_available():
        raise RuntimeError('This PyTorch build has no torch.distributed support; run with --launcher none.')
    if dist.is_initialized():
        return get_dist_info()
    if launcher == 'slurm':
        os.environ.update(slurm_env(os.environ, port))
    missing = [key for key in ENV_KEYS if not os.environ.get(key)]
    if missing:
        raise ValueError(f'--launcher pytorch needs the environment variable {missing[0]}, which torchrun sets: start '
                         'the job with `torchrun --nproc_per_node=N train.py ... --launcher pytorch`.')
    rank = int(os.environ['RANK'])
    cuda = torch.cuda.is_available()
    backend = backend or ('nccl' if cuda else 'gloo')
    if backend == 'nccl' and not cuda:
        raise ValueError("The distributed backend 'nccl' needs CUDA GPUs and none is available: use 'gloo' "
                         '(dist_params.backend) on CPUs.')
    if local_rank is None:
        local_rank = int(os.environ.get('LOCAL_RANK', rank % max(torch.cuda.device_count(), 1)))
    os.environ.setdefault('LOCAL_RANK', str(local_rank))
    if cuda:
        torch.cuda.set_device(local_rank % torch.cuda.device_count())
    dist.init_process_group(backend=backend, init_method='env://')
    return get_dist_info()


def get_dist_info():
    """(rank, world_size) of this process; (0, 1) when no process group is running."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def is_main_process():
    """True on rank 0 and when not distributed."""
    return get_dist_info()[0] == 0


def master_only(func):
    """Run `func` on rank 0 only; the other ranks get None."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        if is_main_process():
            return func(*args, **kwargs)
        return None

    return wrapper


def _distributed():
    return get_dist_info()[1] > 1


def _comm_device():
    """Device the backend communicates on: the current CUDA device for nccl, else the CPU."""
    if dist.get_backend() == 'nccl':
        return torch.device('cuda', torch.cuda.current_device())
    return torch.device('cpu')


def reduce_mean(tensor):
    """Mean of `tensor` over all ranks (a new tensor; `tensor` itself when not distributed). Every rank must call."""
    if not _distributed():
        return tensor
    reduced = tensor.detach().clone()
    dist.all_reduce(reduced, op=dist.ReduceOp.SUM)
    return reduced / dist.get_world_size()


def any_rank(flag):
    """Whether `flag` is true on any rank, so that all ranks take one decision (the local flag when not
    distributed). Every rank must call."""
    if not _distributed():
        return bool(flag)
    value = torch.tensor(float(bool(flag)), device=_comm_device())
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return bool(value.item())


def any_rank_each(flags):
    """[whether flag i is true on any rank for each of `flags`] (bools or a 1-D bool tensor on the model's device),
    in one all_reduce and one device sync. Every rank must call it with as many flags."""
    flags = torch.as_tensor(flags).reshape(-1)
    if _distributed():
        flags = flags.to(_comm_device(), torch.float32)
        dist.all_reduce(flags, op=dist.ReduceOp.MAX)
    return [bool(v) for v in flags.tolist()]


def reduce_loss_dict(loss_dict):
    """{name: float} of the losses (tensors or numbers) averaged over all ranks, for logging; one all_reduce.

    Every rank must call it with the same names.
    """
    if not loss_dict or not _distributed():
        return {name: float(v.detach()) if torch.is_tensor(v) else float(v) for name, v in loss_dict.items()}
    device = _comm_device()
    stacked = torch.stack([
        torch.as_tensor(v.detach() if torch.is_tensor(v) else v).to(device, torch.float64).reshape(())
        for v in loss_dict.values()
    ])
    return dict(zip(loss_dict, reduce_mean(stacked).tolist()))


def broadcast_object(obj, src=0):
    """`obj` of rank `src` on every rank (picklable objects); `obj` itself when not distributed."""
    if not _distributed():
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=src, device=_comm_device())
    return box[0]


def all_gather_object(obj):
    """[`obj` of rank 0, `obj` of rank 1, ...] on every rank (picklable objects); [`obj`] when not distributed.
    Every rank must call."""
    if not _distributed():
        return [obj]
    out = [None] * dist.get_world_size()
    dist.all_gather_object(out, obj)
    return out


def barrier():
    """Wait for every rank; nothing when not distributed."""
    if dist.is_available() and dist.is_initialized():
        dist.barrier()


def destroy():
    """Leave the process group, if one is running."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
