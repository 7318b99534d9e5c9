"""GFPGAN: blind face restoration with generative facial priors, in pure PyTorch."""
from .archs import *  # noqa: F401,F403  (registers every network)
from .registry import ARCH_REGISTRY, DATASET_REGISTRY, LOSS_REGISTRY, METRIC_REGISTRY, MODEL_REGISTRY, build_network
from .restoration import GFPGANer
from .utils import load_network, save_network
from .version import __version__

__all__ = [
    'GFPGANer', 'ARCH_REGISTRY', 'DATASET_REGISTRY', 'LOSS_REGISTRY', 'METRIC_REGISTRY', 'MODEL_REGISTRY',
    'build_network', 'load_network', 'save_network', '__version__'
]
