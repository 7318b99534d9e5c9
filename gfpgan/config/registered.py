"""Which components exist: the registered type names that the options may name, per kind of component."""

__all__ = ['registered_types']


def registered_types(kind):
    """``{type name: class}`` of the components of `kind`: 'arch', 'dataset', 'model', 'loss', 'metric',
    'optimizer', 'scheduler' or 'io_backend' (class None: its keywords are not checked here)."""
    if kind == 'optimizer':
        from gfpgan.models.base_model import OPTIMIZERS
        return dict(OPTIMIZERS)
    if kind == 'scheduler':
        from gfpgan.models.lr_scheduler import SCHEDULERS
        return dict(SCHEDULERS)
    if kind == 'io_backend':
        from gfpgan.data.storage import ImageSource
        return dict.fromkeys(ImageSource.BACKENDS)
    import gfpgan.archs  # noqa: F401  (each package registers its components when imported)
    import gfpgan.data  # noqa: F401
    import gfpgan.losses  # noqa: F401
    import gfpgan.metrics  # noqa: F401
    import gfpgan.models  # noqa: F401
    from gfpgan import registry
    return dict(iter(getattr(registry, f'{kind.upper()}_REGISTRY')))
