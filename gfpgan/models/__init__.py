"""Training models: ``BaseModel`` (optimizers, schedulers, EMA, checkpoints) and the registered ``GFPGANModel``.

Importing the package registers the models; ``build_model(opt)`` builds ``opt['model_type']``.
"""
from gfpgan.registry import MODEL_REGISTRY

from .base_model import BaseModel
from .gfpgan_model import GFPGANModel, NonFiniteLossError

__all__ = ['BaseModel', 'GFPGANModel', 'NonFiniteLossError', 'build_model']


def build_model(opt):
    """The registered model ``opt['model_type']`` built from the whole options dict."""
    return MODEL_REGISTRY.get(opt['model_type'])(opt)
