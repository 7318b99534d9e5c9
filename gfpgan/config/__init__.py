"""Configuration of a run: the option spec vocabulary (`spec`), which components exist (`registered`), the schema
composed from the components' own specs (`schema`), YAML reading and --force_yml overrides (`loading`),
validation and the training preflight (`validation`, `training_checks`), the command line (`cli`) and the
options as log text (`printing`).

The spec vocabulary is imported here; the rest on first use (``from gfpgan.config import load_options``), so that
a component can declare its options with the vocabulary without importing the schema that composes them.
"""
import importlib

from .spec import (Component, FilePath, ListOf, OneOf, OptionsError, Section, Spec, TypeName, Value,
                   keyword_names)

_LAZY = {
    'registered_types': 'registered',
    'SCHEMA': 'schema',
    'extend_schema': 'schema',
    'read_yaml': 'loading',
    'apply_overrides': 'loading',
    'validate_options': 'validation',
    'load_options': 'validation',
    'parse_args': 'cli',
    'parse_options': 'cli',
    'dict2str': 'printing',
}

__all__ = [
    'OptionsError', 'Spec', 'Value', 'ListOf', 'OneOf', 'FilePath', 'TypeName', 'Section', 'Component',
    'keyword_names', *_LAZY
]


def __getattr__(name):
    """The names of the heavier modules, imported when first asked for."""
    if name in _LAZY:
        return getattr(importlib.import_module(f'.{_LAZY[name]}', __name__), name)
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
