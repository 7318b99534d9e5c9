"""GFPGAN: blind face restoration with generative facial priors, in pure PyTorch."""
# The original's surface: ``from .archs import *``, ``.data``, ``.models`` and ``.utils`` (GFPGANer lived there).
from . import archs, data, models, utils
from .archs import *  # noqa: F401,F403  (registers every network)
from .data import *  # noqa: F401,F403  (registers the datasets)
from .models import *  # noqa: F401,F403  (registers the models)
from .archs import build_network
from .registry import ARCH_REGISTRY, DATASET_REGISTRY, LOSS_REGISTRY, METRIC_REGISTRY, MODEL_REGISTRY
from .restoration import GFPGANer
from .utils import *  # noqa: F401,F403
from .version import __version__

__all__ = [
    'GFPGANer', 'ARCH_REGISTRY', 'DATASET_REGISTRY', 'LOSS_REGISTRY', 'METRIC_REGISTRY', 'MODEL_REGISTRY',
    'build_network', '__version__'
]
__all__ += [name for package in (archs, data, models, utils) for name in package.__all__ if name not in __all__]
