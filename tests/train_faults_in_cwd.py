"""tests/train_in_cwd.py with faults injected from the environment, for tests/test_train_faults.py: each rank writes
its process id to ``pid_rank<r>`` (so a test can signal one rank), and ``GFPGAN_TEST_NAN_GRAD=<rank>:<iter>`` makes
the generator's first weight get a NaN gradient, with a finite loss, at iteration <iter> on rank <rank>."""
import os
import sys

import torch

from train_in_cwd import dump  # first: it puts the repository on sys.path

from gfpgan.models.base_model import bare
from gfpgan.models.gfpgan_model import GFPGANModel
from gfpgan.train import main


def inject_nan_gradient(rank, iteration):
    """Wrap GFPGANModel.optimize_parameters: at ``iteration`` on ``rank``, a NaN gradient for net_g's first weight."""
    optimize = GFPGANModel.optimize_parameters

    def optimize_parameters(self, current_iter):
        handle = None
        if current_iter == iteration and self.opt['rank'] == rank:
            weight = next(bare(self.net_g).parameters())
            handle = weight.register_hook(lambda grad: torch.full_like(grad, float('nan')))
        try:
            return optimize(self, current_iter)
        finally:
            if handle is not None:
                handle.remove()

    GFPGANModel.optimize_parameters = optimize_parameters


if __name__ == '__main__':
    with open(f"pid_rank{os.environ.get('RANK', '0')}", 'w') as f:
        f.write(str(os.getpid()))
    if os.environ.get('GFPGAN_TEST_NAN_GRAD'):
        inject_nan_gradient(*(int(v) for v in os.environ['GFPGAN_TEST_NAN_GRAD'].split(':')))
    sys.exit(main(root_path=os.getcwd(), on_end=dump))
