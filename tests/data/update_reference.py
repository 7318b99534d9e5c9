"""Refresh tests/data/reference/ from the project's shared reference folder (../shared/reference).

Copies every manifest and vector description (JSON) and, of each vector's .io.pt, only the outputs:
weights and inputs are rebuilt in the tests from the JSON recipes. Usage: python tests/data/update_reference.py
"""
import glob
import os
import shutil
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.join(HERE, '..', '..', '..', 'shared', 'reference')


def main():
    src = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else SRC)
    for path in glob.glob(os.path.join(src, 'manifests', '*.json')):
        shutil.copy(path, os.path.join(HERE, 'reference', 'manifests'))
    for path in glob.glob(os.path.join(src, 'vectors', '*.json')):
        shutil.copy(path, os.path.join(HERE, 'reference', 'vectors'))
        name = os.path.basename(path)[:-len('.json')]
        io = torch.load(os.path.join(src, 'vectors', f'{name}.io.pt'), map_location='cpu', weights_only=True)
        torch.save({'outputs': io['outputs']}, os.path.join(HERE, 'reference', 'vectors', f'{name}.outputs.pt'))
    print(f'updated from {src}')


if __name__ == '__main__':
    main()
