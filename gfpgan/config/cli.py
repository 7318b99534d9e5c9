"""The command line of training (BasicSR's flags, `parse_args`) and `parse_options`: the command line and the
validated options of a run. Joining the process group is the training entry point's job (gfpgan.train)."""
import argparse
import os

from .spec import OptionsError
from .validation import load_options

__all__ = ['parse_args', 'parse_options']

_EPILOG = """\
examples:
  python train.py -opt options/train_gfpgan_v1.yml
  python train.py -opt options/train_gfpgan_v1.yml --debug --force_yml train:total_iter=100 num_gpu=0
  torchrun --nproc_per_node=4 train.py -opt options/train_gfpgan_v1.yml --launcher pytorch
  srun --ntasks=8 --gres=gpu:4 python train.py -opt options/train_gfpgan_v1.yml --launcher slurm
"""


def parse_args(argv=None):
    """The command line of train.py (BasicSR's flags); `local_rank` falls back to $LOCAL_RANK, then 0."""
    parser = argparse.ArgumentParser(
        description='Train a GFPGAN model from a YAML options file.',
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('-opt', required=True, metavar='PATH', help='the options YAML file (BasicSR schema)')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm'],
        default='none',
        help="how the processes were started: 'none' = one process (default), 'pytorch' = torchrun or "
        "torch.distributed.launch (env://), 'slurm' = srun (ranks from SLURM_PROCID / SLURM_NTASKS)")
    parser.add_argument(
        '--auto_resume',
        action='store_true',
        help='resume from the newest experiments/<name>/training_states/<iter>.state, if there is one')
    parser.add_argument(
        '--debug',
        action='store_true',
        help="prefix the name with 'debug_', log every iteration, validate and save every 8, no TensorBoard")
    parser.add_argument(
        '--local_rank',
        '--local-rank',
        dest='local_rank',
        type=int,
        default=None,
        help='GPU index on this node, passed by torch.distributed.launch (either spelling); default $LOCAL_RANK')
    parser.add_argument(
        '--force_yml',
        nargs='+',
        default=None,
        metavar='KEY:SUB=VALUE',
        help='override options, e.g. train:ema_decay=0.999 datasets:train:batch_size_per_gpu=2; values are YAML '
        'scalars or lists ([1, 2], ~, true, 1e-4)')
    args = parser.parse_args(argv)
    if args.local_rank is None:
        env = os.environ.get('LOCAL_RANK', '0')
        if not env.strip().isdigit():
            parser.error(f'the environment variable LOCAL_RANK must be an integer, got {env!r}')
        args.local_rank = int(env)
    return args


def parse_options(argv=None, root_path=None, is_train=True):
    """train.py's start-up: parse the command line and load and validate the options (before any heavy work).
    Returns (opt, args); with a launcher the caller joins the process group (gfpgan.train.join_process_group),
    and seeding is left to it too."""
    args = parse_args(argv)
    world = os.environ.get('WORLD_SIZE', '1')
    if args.launcher == 'none' and world.isdigit() and int(world) > 1:
        raise OptionsError(f'This process is one of {world} started by a launcher (WORLD_SIZE={world}) but '
                           '--launcher is none: add --launcher pytorch (torchrun) or --launcher slurm.')
    opt = load_options(args.opt, args.force_yml or (), is_train, args.debug, root_path, args.auto_resume)
    return opt, args
