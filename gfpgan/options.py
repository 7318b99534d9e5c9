"""The former home of the options, kept so that ``from gfpgan.options import ...`` goes on working: every name is
re-exported from where it now lives (gfpgan.config: spec vocabulary, schema, loading, validation, command line;
gfpgan.run: experiment folders, checkpoint names, resuming). `parse_options` no longer joins the process group of
a launcher: the training entry point does (gfpgan.train.join_process_group)."""
from gfpgan.config.cli import parse_args, parse_options
from gfpgan.config.loading import apply_overrides, read_yaml
from gfpgan.config.printing import dict2str
from gfpgan.config.registered import registered_types
from gfpgan.config.schema import SCHEMA, extend_schema
from gfpgan.config.spec import (Component, FilePath, ListOf, OneOf, OptionsError, Section, Spec, TypeName, Value,
                                keyword_names)
from gfpgan.config.validation import DEBUG_SETTINGS, load_options, validate_options
from gfpgan.run import latest_training_state, log_file_path, make_exp_dirs

__all__ = [
    'OptionsError', 'Spec', 'Value', 'ListOf', 'OneOf', 'FilePath', 'Section', 'Component', 'SCHEMA', 'extend_schema',
    'parse_args', 'parse_options', 'load_options', 'read_yaml', 'apply_overrides', 'validate_options', 'make_exp_dirs',
    'log_file_path', 'latest_training_state', 'dict2str', 'TypeName', 'registered_types', 'keyword_names',
    'DEBUG_SETTINGS'
]
