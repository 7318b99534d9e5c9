"""train.py with experiments/ under the working directory (train.py puts them in the repository, as the original),
plus, on every rank at the end, weights_rank<r>.json with the SHA-256 of that rank's trained weights (used by
tests/test_train.py to check that distributed ranks end identical)."""
import hashlib
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from gfpgan.models.base_model import bare  # noqa: E402
from gfpgan.train import main  # noqa: E402


def dump(model, opt):
    digest = hashlib.sha256()
    for net in [model.net_g, model.net_d, *model.net_d_components.values()]:
        for key, value in bare(net).state_dict().items():
            digest.update(key.encode())
            digest.update(value.detach().cpu().contiguous().numpy().tobytes())
    out = {
        'rank': opt['rank'],
        'world_size': opt['world_size'],
        'iter': opt['train']['total_iter'],
        'sha256': digest.hexdigest()
    }
    with open(f"weights_rank{opt['rank']}.json", 'w') as f:
        json.dump(out, f)


if __name__ == '__main__':
    sys.exit(main(root_path=os.getcwd(), on_end=dump))
