"""Train GFPGAN from a YAML options file.

    python train.py -opt options/train_gfpgan_v1.yml
    torchrun --nproc_per_node=4 train.py -opt options/train_gfpgan_v1.yml --launcher pytorch
    python -m torch.distributed.launch --nproc_per_node=4 train.py -opt options/train_gfpgan_v1.yml --launcher pytorch

The loop lives in gfpgan/train.py; run ``python train.py -h`` for the flags.
"""
import os
import sys

from gfpgan.train import main  # the repository root is sys.path[0] when this file runs, installed or not

if __name__ == '__main__':
    sys.exit(main(root_path=os.path.dirname(os.path.abspath(__file__))))
