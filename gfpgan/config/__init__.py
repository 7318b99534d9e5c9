"""Configuration of a run: the option spec vocabulary (`spec`), which components exist (`registered`), the schema
composed from the components' own specs (`schema`), YAML reading and --force_yml overrides (`loading`),
validation and the training preflight (`validation`, `training_checks`), the command line (`cli`) and the
options as log text (`printing`).

Only the spec vocabulary is imported here, so that a component can declare its options with it (the data loader,
the prefetchers, each dataset's ``OPTION_SPEC``) without importing the schema that composes them; the rest is
imported from its module (``from gfpgan.config.validation import load_options``).
"""
from .spec import (Component, FilePath, Fraction, ListOf, OneOf, OptionsError, PositiveInt, Probability, Range,
                   Section, Spec, TypeName, Value, keyword_names, problem_of)

__all__ = [
    'OptionsError', 'Spec', 'Value', 'Range', 'Probability', 'Fraction', 'PositiveInt', 'ListOf', 'OneOf', 'FilePath',
    'TypeName', 'Section', 'Component', 'keyword_names', 'problem_of'
]
