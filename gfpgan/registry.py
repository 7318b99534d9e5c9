"""Name -> class registries for networks, datasets, models, losses, metrics, optimizers and schedulers.

Components register themselves with a decorator when their module is imported (``gfpgan.archs`` imports every arch
module), and are built from option dicts by the package that owns them (``gfpgan.archs.build_network``). This module
imports nothing of the package, so every layer can register into it.
"""
import copy

__all__ = [
    'Registry', 'UnknownTypeError', 'ARCH_REGISTRY', 'DATASET_REGISTRY', 'MODEL_REGISTRY', 'LOSS_REGISTRY',
    'METRIC_REGISTRY', 'OPTIMIZER_REGISTRY', 'SCHEDULER_REGISTRY'
]


class UnknownTypeError(KeyError, ValueError):
    """A name no registry entry has; a KeyError (lookup) and a ValueError (bad option value) alike, printed as its
    one sentence listing the known names."""

    def __str__(self):
        return str(self.args[0]) if self.args else ''


class Registry:
    """A named mapping from type names to classes or functions."""

    def __init__(self, name):
        self._name = name
        self._obj_map = {}

    def _do_register(self, name, obj):
        if name in self._obj_map and self._obj_map[name] is not obj:
            raise KeyError(f"'{name}' is already registered in the {self._name} registry.")
        self._obj_map[name] = obj

    def register(self, obj=None, name=None):
        """Register ``obj`` under ``name`` (default: its ``__name__``); usable as ``@REG.register()``."""
        if obj is None:

            def deco(func_or_class):
                self._do_register(name or func_or_class.__name__, func_or_class)
                return func_or_class

            return deco
        self._do_register(name or obj.__name__, obj)
        return obj

    def get(self, name):
        if name not in self._obj_map:
            known = ', '.join(sorted(self._obj_map)) or '(none)'
            raise UnknownTypeError(f"No {self._name} named '{name}'; registered {self._name} types are: {known}.")
        return self._obj_map[name]

    def build(self, opt, **extra):
        """Instantiate ``opt['type']`` with the remaining keys of ``opt`` (and ``extra``) as keyword arguments."""
        if not isinstance(opt, dict) or 'type' not in opt:
            raise ValueError(f"A {self._name} option must be a dict with a 'type' key, got {opt!r}.")
        kwargs = copy.deepcopy(dict(opt))
        cls = self.get(kwargs.pop('type'))
        kwargs.update(extra)
        return cls(**kwargs)

    def __contains__(self, name):
        return name in self._obj_map

    def __iter__(self):
        return iter(sorted(self._obj_map.items()))

    def __getitem__(self, name):
        return self.get(name)

    def keys(self):
        return sorted(self._obj_map)

    def __repr__(self):
        return f'Registry(name={self._name!r}, items={self.keys()})'


ARCH_REGISTRY = Registry('arch')
DATASET_REGISTRY = Registry('dataset')
MODEL_REGISTRY = Registry('model')
LOSS_REGISTRY = Registry('loss')
METRIC_REGISTRY = Registry('metric')
OPTIMIZER_REGISTRY = Registry('optimizer')
SCHEDULER_REGISTRY = Registry('scheduler')
