"""Train GFPGAN: ``python train.py -opt options/train_gfpgan_v1.yml`` (or through torchrun /
``python -m torch.distributed.launch``).

The training engine (options, datasets, GFPGANModel, distributed loop) is not part of this release
yet; this entry point already accepts the launcher's arguments and says so clearly.
"""
import argparse
import sys


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('-opt', required=True, help='path to the option YAML file')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm'], default='none', help='job launcher')
    parser.add_argument('--auto_resume', action='store_true', help='resume from the newest training state')
    parser.add_argument('--debug', action='store_true', help='validate and save checkpoints every few iterations')
    parser.add_argument(
        '--local_rank',
        '--local-rank',
        type=int,
        default=0,
        help='set by torch.distributed.launch (both spellings are accepted)')
    parser.add_argument('--force_yml', nargs='+', default=None, help='override options: key:sub=value')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    print(
        f"train.py: training is not available in this version of the framework yet (requested: -opt {args.opt}); "
        'the networks, checkpoints and conversion tools are. See README.md for what is included.',
        file=sys.stderr)
    return 2


if __name__ == '__main__':
    sys.exit(main())
