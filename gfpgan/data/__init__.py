"""Training and evaluation data: image storage (folders, LMDB), degradations, datasets, sampling and loading.

Importing the package registers the datasets; ``build_dataset(opt)`` builds one from its YAML options.
"""
from gfpgan.registry import DATASET_REGISTRY

from .ffhq_degradation_dataset import FFHQDegradationDataset
from .loader import build_dataloader
from .paired_image_dataset import PairedImageDataset
from .prefetch import build_prefetcher
from .sampler import EnlargedSampler
from .single_image_dataset import SingleImageDataset

__all__ = [
    'FFHQDegradationDataset', 'PairedImageDataset', 'SingleImageDataset', 'EnlargedSampler', 'build_dataset',
    'build_dataloader', 'build_prefetcher'
]


def build_dataset(dataset_opt):
    """Instantiate the registered dataset ``dataset_opt['type']`` with the whole options dict (BasicSR style)."""
    if not isinstance(dataset_opt, dict) or 'type' not in dataset_opt:
        raise ValueError(f"A dataset option must be a dict with a 'type' key, got {dataset_opt!r}.")
    return DATASET_REGISTRY.get(dataset_opt['type'])(dataset_opt)
