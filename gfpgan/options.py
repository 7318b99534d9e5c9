"""Options of a run: the command line, the YAML file with BasicSR's schema (validated once, against `SCHEMA`),
the distributed state and the experiment folders (``experiments/<name>/``, ``tb_logger/<name>/``).

``parse_options()`` does all of it for ``train.py``; ``load_options(path)`` reads and validates a file without
touching the process group. A bad option is one :class:`OptionsError` naming the dotted key and the file.
"""
import argparse
import difflib
import fnmatch
import inspect
import math
import os
import random
import re
import shlex
import sys
import time

import torch
import yaml

from gfpgan.models.precision import MIXED_PRECISION
from gfpgan.preflight import Preflight, PreflightError, did_you_mean
from gfpgan.utils.dist import broadcast_object, get_dist_info, init_dist, master_only
from gfpgan.utils.fileio import atomic_write

__all__ = [
    'OptionsError', 'Spec', 'Value', 'ListOf', 'OneOf', 'FilePath', 'Section', 'Component', 'SCHEMA', 'extend_schema',
    'parse_args', 'parse_options', 'load_options', 'read_yaml', 'apply_overrides', 'validate_options', 'make_exp_dirs',
    'log_file_path', 'latest_training_state', 'dict2str'
]

DEBUG_SETTINGS = {'val_freq': 8, 'print_freq': 1, 'save_checkpoint_freq': 8}


class OptionsError(PreflightError):
    """Bad options: one sentence naming the option (dotted key) and the YAML file, or several such problems of
    one file listed together (``problems``)."""


class _Invalid(Exception):
    """Raised by a spec with the end of the error sentence (what the value must be)."""


# ---------------------------------------------------------------------------------------------- option specs
_KIND_WORDS = {
    'int': 'an integer',
    'number': 'a number',
    'str': 'a string',
    'bool': 'true or false',
    'list': 'a list',
    'dict': 'a mapping'
}
_LOOKS_NUMERIC = re.compile(r'^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$')


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


class _Run:
    """State of one validation: the file named in errors, the overridden keys, the phase, the paths to check."""

    def __init__(self, source, is_train, overridden=()):
        self.source = source
        self.is_train = is_train
        self.overridden = set(overridden)
        self.paths = []  # (dotted key, path as given, expanded path)
        self.problems = Preflight(source)  # every problem found, reported together by raise_if_any

    def error(self, key, reason):
        origin = ' (set by --force_yml)' if key in self.overridden else ''
        return OptionsError(f'Option `{key}`{origin} in {self.source} {reason}.')

    def record(self, key, reason):
        """Note a problem of option `key` and go on checking the others."""
        self.problems.add(str(self.error(key, reason)))

    def raise_if_any(self):
        """One OptionsError: the problem's sentence, or all problems listed under a header naming the file."""
        if self.problems:
            raise OptionsError(self.problems.report(), self.problems.lines())


class Spec:
    """How one option is checked: `check` returns the value (normalised) or raises _Invalid.

    `required`: True, 'train' (only when training) or False; `nullable`: whether ``~`` is accepted.
    """

    def __init__(self, required=False, nullable=True):
        self.required = required
        self.nullable = nullable

    def is_required(self, is_train):
        return self.required is True or (self.required == 'train' and is_train)

    def describe(self):
        raise NotImplementedError

    def check(self, value, key, run, parent):
        """Validate `value` of option `key` (dotted) found in the mapping `parent`."""
        if value is None:
            if self.nullable:
                return None
            raise _Invalid(f'must be {self.describe()}, got ~ (empty)')
        return self.check_value(value, key, run, parent)

    def check_value(self, value, key, run, parent):
        raise NotImplementedError


class Value(Spec):
    """A scalar of one kind ('int', 'number', 'str', 'bool', 'list', 'dict'), optionally bounded or from `choices`.

    'int' accepts an integral float (``!!float 5e3``) and returns it as an int.
    """

    def __init__(self, kind, choices=None, minimum=None, maximum=None, pattern=None, **kwargs):
        super().__init__(**kwargs)
        if kind not in _KIND_WORDS:
            raise ValueError(f'Unknown option kind {kind!r}; use one of {", ".join(_KIND_WORDS)}.')
        self.kind, self.choices, self.minimum, self.maximum = kind, choices, minimum, maximum
        self.pattern = pattern  # (regular expression the whole string matches, its description) or None

    def describe(self):
        if self.pattern is not None:
            return self.pattern[1]
        if self.choices is not None:
            return 'one of ' + ', '.join(repr(c) for c in self.choices)
        words = _KIND_WORDS[self.kind]
        if self.minimum is not None and self.maximum is not None:
            return f'{words} in [{self.minimum}, {self.maximum}]'
        if self.minimum is not None:
            return f'{words} >= {self.minimum}'
        if self.maximum is not None:
            return f'{words} <= {self.maximum}'
        return words

    def _converted(self, value):
        """`value` as this kind, or None when it is not of it."""
        if self.kind == 'int':
            if isinstance(value, int) and not isinstance(value, bool):
                return value
            if isinstance(value, float) and math.isfinite(value) and value.is_integer():
                return int(value)
            return None
        if self.kind == 'number':
            return value if _is_number(value) else None
        types = {'str': str, 'bool': bool, 'list': (list, tuple), 'dict': dict}[self.kind]
        if not isinstance(value, types):
            return None
        return list(value) if self.kind == 'list' else value

    def check_value(self, value, key, run, parent):
        converted = self._converted(value)
        if (converted is None or (self.choices is not None and converted not in self.choices)
                or (self.pattern is not None and not re.fullmatch(self.pattern[0], converted))):
            hint = ''
            if self.kind in ('int', 'number') and isinstance(value, str) and _LOOKS_NUMERIC.match(value.strip()):
                hint = (f' (YAML reads {value} as a string: write it with a decimal point, e.g. 1.0e-3, or as '
                        f'!!float {value})' if 'e' in value.lower() and '.' not in value else ' (remove the quotes)')
            raise _Invalid(f'must be {self.describe()}, got {value!r}{hint}')
        if (self.minimum is not None and converted < self.minimum) or (self.maximum is not None
                                                                       and converted > self.maximum):
            raise _Invalid(f'must be {self.describe()}, got {value!r}')
        return converted


class ListOf(Spec):
    """A list whose items all satisfy `item`, of exactly `length` items when given."""

    def __init__(self, item, length=None, **kwargs):
        super().__init__(**kwargs)
        self.item, self.length = item, length

    def describe(self):
        count = f'{self.length} ' if self.length is not None else ''
        return f'a list of {count}items, each {self.item.describe()}'

    def check_value(self, value, key, run, parent):
        if not isinstance(value, (list, tuple)) or (self.length is not None and len(value) != self.length):
            raise _Invalid(f'must be {self.describe()}, got {value!r}')
        return [_check(self.item, v, f'{key}[{i}]', run, value) for i, v in enumerate(value)]


class OneOf(Spec):
    """The first of `specs` that accepts the value."""

    def __init__(self, *specs, **kwargs):
        super().__init__(**kwargs)
        self.specs = specs

    def describe(self):
        return ' or '.join(spec.describe() for spec in self.specs)

    def check_value(self, value, key, run, parent):
        for spec in self.specs:
            try:
                return spec.check(value, key, run, parent)
            except _Invalid:
                continue
        raise _Invalid(f'must be {self.describe()}, got {value!r}')


class FilePath(Spec):
    """A path (``~`` expanded) that must exist when set; `many` also accepts a list of paths; with `when`, the
    path is needed (and checked) only while the sibling option `when` is true."""

    def __init__(self, many=False, when=None, **kwargs):
        super().__init__(**kwargs)
        self.many, self.when = many, when

    def describe(self):
        return 'a path or a list of paths' if self.many else 'a path'

    def check_value(self, value, key, run, parent):
        several = self.many and isinstance(value, (list, tuple))
        paths = list(value) if several else [value]
        if not paths or not all(isinstance(p, str) and p for p in paths):
            raise _Invalid(f'must be {self.describe()}, got {value!r}')
        expanded = [os.path.expanduser(p) for p in paths]
        if self.when is None or parent.get(self.when):
            for i, (given, path) in enumerate(zip(paths, expanded)):
                run.paths.append((f'{key}[{i}]' if several else key, given, path))
        return expanded if several else expanded[0]


class TypeName(Value):
    """The name of a registered component of `kind` (see :func:`registered_types`), e.g. ``model_type``."""

    def __init__(self, kind, **kwargs):
        super().__init__('str', **kwargs)
        self.registry = kind

    def check_value(self, value, key, run, parent):
        name = super().check_value(value, key, run, parent)
        known = registered_types(self.registry)
        if name not in known:
            raise _Invalid(f'names {name!r}, which is not a registered {self.registry} type'
                           f'{did_you_mean(name, known)}')
        return name


def _match(fields, name):
    """The spec of `name` in `fields`: its exact entry, else the first glob pattern (``network_*``) matching it."""
    if name in fields:
        return fields[name]
    for pattern, spec in fields.items():
        if any(c in pattern for c in '*?[') and fnmatch.fnmatchcase(name, pattern):
            return spec
    return None


class Section(Spec):
    """A mapping with known keys (`fields`, glob patterns allowed); any other key is an error."""

    def __init__(self, fields, required=False, nullable=False):
        super().__init__(required=required, nullable=nullable)
        self.fields = dict(fields)

    def describe(self):
        return 'a mapping of options'

    def unknown(self, key, run, name):
        exact = [k for k in self.fields if not any(c in k for c in '*?[')]
        close = difflib.get_close_matches(name, exact, n=1, cutoff=0.6)
        prefix = key.rsplit('.', 1)[0] + '.' if '.' in key else ''
        if close:
            hint = f' (did you mean `{prefix}{close[0]}`?)'
        else:
            hint = f"; known here: {', '.join(self.fields)}"
        return run.error(key, f'is not a known option{hint}')

    def check_value(self, value, key, run, parent):
        if not isinstance(value, dict):
            raise _Invalid(f'must be {self.describe()}, got {value!r}')
        out = {}
        for name, item in value.items():
            sub = f'{key}.{name}' if key else str(name)
            spec = _match(self.fields, name) if isinstance(name, str) else None
            if spec is None:
                run.problems.add(str(self.unknown(sub, run, str(name))))
                out[name] = item
            else:
                out[name] = _check_or_record(spec, item, sub, run, value)
        self.check_required(value, key, run)
        return out

    def check_required(self, value, key, run):
        for name, spec in self.fields.items():
            if name not in value and not any(c in name for c in '*?[') and spec.is_required(run.is_train):
                run.record(f'{key}.{name}' if key else name, 'is required but missing')


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


def keyword_names(cls):
    """The keyword arguments `cls` (a class or function) accepts, or None when it takes ``**kwargs``."""
    try:
        params = inspect.signature(cls).parameters.values()
    except (TypeError, ValueError):
        return None
    if any(p.kind is p.VAR_KEYWORD for p in params):
        return None
    return {p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}


class Component(Section):
    """Options of a registered class (network, dataset, loss, metric, optimizer, scheduler): a mapping with a
    `type` that must be registered in `registry` (a kind of :func:`registered_types`); `fields` are checked when
    present; other keys must be keyword arguments of the class (those of a dataset are left to it)."""

    def __init__(self, fields=None, required=False, nullable=True, registry=None, positional=()):
        super().__init__(dict(fields or {}), required=required, nullable=nullable)
        self.registry = registry
        self.positional = set(positional)  # arguments the builder passes itself (an optimizer's params)

    def describe(self):
        return 'a mapping with a `type`'

    def check_value(self, value, key, run, parent):
        if not isinstance(value, dict):
            raise _Invalid(f'must be {self.describe()}, got {value!r}')
        type_name = value.get('type')
        if not isinstance(type_name, str) or not type_name:
            run.record(f'{key}.type', f'must name the registered class of `{key}`, got {type_name!r}')
        elif self.registry is not None:
            self.check_type(type_name, value, key, run)
        out = {}
        for name, item in value.items():
            spec = _match(self.fields, name) if isinstance(name, str) else None
            out[name] = item if spec is None else _check_or_record(spec, item, f'{key}.{name}', run, value)
        self.check_required(value, key, run)
        return out

    def check_type(self, type_name, value, key, run):
        known = registered_types(self.registry)
        if type_name not in known:
            kind = self.registry.replace('_', ' ')
            run.record(f'{key}.type', f'names {type_name!r}, which is not a registered {kind} type'
                       f'{did_you_mean(type_name, known)}')
            return
        accepted = keyword_names(known[type_name]) if known[type_name] is not None else None
        if accepted is None or self.registry == 'dataset':
            return
        for name in value:
            if name != 'type' and name not in accepted and name not in self.fields:
                options = sorted(accepted - self.positional - {'self'})
                run.record(f'{key}.{name}', f'is not an option of {type_name}{did_you_mean(name, options)}')


def _check(spec, value, key, run, parent):
    """`spec.check` with its _Invalid turned into the OptionsError naming `key` and the file."""
    try:
        return spec.check(value, key, run, parent)
    except _Invalid as err:
        raise run.error(key, str(err)) from None


def _check_or_record(spec, value, key, run, parent):
    """`_check`, a problem being recorded in `run` (the value then kept as it is) instead of raised."""
    try:
        return _check(spec, value, key, run, parent)
    except OptionsError as err:
        run.problems.add(str(err))
        return value


# ---------------------------------------------------------------------------------------------- the schema
def _int(minimum=None, **kwargs):
    return Value('int', minimum=minimum, **kwargs)


def _number(minimum=None, maximum=None, **kwargs):
    return Value('number', minimum=minimum, maximum=maximum, **kwargs)


def _dataset(required=False):
    """A `datasets.<phase>` block: the dataset class checks its own keywords; here its type, the paths (which must
    exist) and the data loader's options."""
    return Component(
        required=required,
        registry='dataset',
        fields={
            'dataroot_*': FilePath(many=True),
            'meta_info_file': FilePath(),
            'component_path': FilePath(when='crop_components'),
            'io_backend': Component(registry='io_backend'),
            'batch_size_per_gpu': _int(1, required='train' if required else False),
            'num_worker_per_gpu': _int(0),
            'dataset_enlarge_ratio': _int(1),
            'use_shuffle': Value('bool'),
            'prefetch_mode': Value('str', choices=('cpu', 'cuda')),
            'num_prefetch_queue': _int(1),
        })


_FOLDER_NAME = Value('str', pattern=(r'(?!\.\.?$)[^/\\]+', 'a folder name (no / or \\)'), required=True, nullable=False)
_OPTIMIZER = Component(
    {
        'lr': _number(0),
        'betas': ListOf(_number(0, 1), length=2),
        'weight_decay': _number(0),
    },
    registry='optimizer',
    positional=('params', ))
_DATASETS = Section(
    required=True,
    fields={
        'train': _dataset(required='train'),
        'val': _dataset(),
        'val_*': _dataset(),
        'test': _dataset(),
        'test_*': _dataset(),
    })
_PATH = Section({
    'pretrain_network_*': FilePath(),
    'allow_random_network_*': Value('bool'),  # a frozen network (identity) may be untrained: tests only
    'param_key_*': Value('str'),
    'strict_load_*': Value('bool'),
    'resume_state': FilePath(),
    'ignore_resume_networks': ListOf(Value('str')),
    # filled by the parser
    'experiments_root': Value('str'),
    'results_root': Value('str'),
    'models': Value('str'),
    'training_states': Value('str'),
    'log': Value('str'),
    'visualization': Value('str'),
    'tb_logger': Value('str'),
})
_TRAIN = Section(
    required='train',
    fields={
        'optim_g': _OPTIMIZER,
        'optim_d': _OPTIMIZER,
        'optim_component': _OPTIMIZER,
        'scheduler': Component(registry='scheduler', positional=('optimizer', )),
        'total_iter': _int(1, required='train'),
        'warmup_iter': _int(),
        'ema_decay': _number(0, 1),
        '*_opt': Component(registry='loss'),  # pixel_opt, L1_opt, perceptual_opt, gan_opt, gan_component_opt, ...
        'pyramid_loss_weight': _number(0),
        'remove_pyramid_loss': _number(),
        'comp_style_weight': _number(0),
        'comp_d_fake_loss': Value('str', choices=('gan', 'component')),
        'identity_weight': _number(0),
        'r1_reg_weight': _number(0),
        'net_d_iters': _int(1),
        'net_d_init_iters': _int(0),
        'net_d_reg_every': _int(1),
        'max_nonfinite_steps': _int(0),
        # speed (gfpgan/models/gfpgan_model.py): all off by default, the original's float32 arithmetic
        'mixed_precision': Value('str', choices=tuple(MIXED_PRECISION)),
        'compile': Value('bool'),
        'channels_last': Value('bool'),
        'fused_optimizer': Value('bool'),
        'tf32': Value('bool'),
    })
_VAL = Section(
    nullable=True,
    fields={
        'val_freq': _int(1, required='train'),
        'save_img': Value('bool'),
        'suffix': Value('str'),
        'pbar': Value('bool'),
        'metrics': Section(nullable=True, fields={'*': Component(registry='metric', positional=('img', 'img2'))
                                                  }),
    })
_LOGGER = Section(
    required='train',
    fields={
        'print_freq': _int(1, required='train'),
        'save_checkpoint_freq': _int(1, required='train'),
        'use_tb_logger': Value('bool'),
        'wandb': Section(nullable=True, fields={
            'project': Value('str'),
            'resume_id': Value('str'),
        }),
    })
_DIST_PARAMS = Section({
    'backend': Value('str', choices=('nccl', 'gloo', 'mpi', 'ucc')),
    'port': _int(1, maximum=65535),
})

#: BasicSR's option schema as GFPGAN uses it. Keys may be glob patterns; `Component` sections belong to a
#: registered class and are checked here for their `type` (and the paths they name) only.
SCHEMA = Section({
    'name': _FOLDER_NAME,
    'model_type': TypeName('model', required=True, nullable=False),
    'scale': _int(1),
    'num_gpu': OneOf(_int(0), Value('str', choices=('auto', ))),
    'manual_seed': _int(),
    'find_unused_parameters': Value('bool'),
    'deterministic': Value('bool'),
    # filled by the parser (a value in the file is overwritten)
    'is_train': Value('bool'),
    'dist': Value('bool'),
    'rank': _int(0),
    'world_size': _int(1),
    'auto_resume': Value('bool'),
    'root_path': Value('str'),
    'opt_path': Value('str'),
    'force_yml': ListOf(Value('str')),
    # sections
    'datasets': _DATASETS,
    'network_g': Component({'decoder_load_path': FilePath()}, required=True, nullable=False, registry='arch'),
    'network_*': Component({'decoder_load_path': FilePath()}, registry='arch'),
    'path': _PATH,
    'train': _TRAIN,
    'val': _VAL,
    'logger': _LOGGER,
    'dist_params': _DIST_PARAMS,
})


def extend_schema(dotted_key, spec):
    """Declare an option, e.g. ``extend_schema('train.use_amp', Value('bool'))``; its sections must exist."""
    *parents, name = dotted_key.split('.')
    section = SCHEMA
    for i, part in enumerate(parents):
        section = section.fields.get(part)
        if not isinstance(section, Section):
            raise KeyError(f"'{'.'.join(parents[:i + 1])}' is not a section of the options schema.")
    section.fields[name] = spec
    return spec


# ---------------------------------------------------------------------------------------------- reading
class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses a key given twice in one mapping (plain YAML silently keeps the last one)."""


def _construct_unique_mapping(loader, node, deep=False):
    seen = {}
    for key_node, _ in node.value:
        if key_node.tag == 'tag:yaml.org,2002:merge':
            continue
        key = loader.construct_object(key_node, deep=deep)
        try:
            first = seen.setdefault(key, key_node.start_mark.line + 1)
        except TypeError:  # an unhashable key: construct_mapping reports it
            break
        if first != key_node.start_mark.line + 1:
            raise yaml.constructor.ConstructorError(None, None,
                                                    f'the key {key!r} is given twice (first on line {first})',
                                                    key_node.start_mark)
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_unique_mapping)


def read_yaml(path):
    """The mapping in the YAML file `path` (key order kept); OptionsError for a missing or malformed file."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise OptionsError(f"Options file '{path}' does not exist.")
    try:
        with open(path, encoding='utf-8') as f:
            opt = yaml.load(f, Loader=_UniqueKeyLoader)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark
        where = f' at line {mark.line + 1}, column {mark.column + 1}' if mark else ''
        raise OptionsError(f'Options file {path} is not valid YAML{where}: {err.problem}.') from None
    except (yaml.YAMLError, UnicodeDecodeError) as err:
        raise OptionsError(f'Options file {path} is not valid YAML: {err}.') from None
    if not isinstance(opt, dict):
        raise OptionsError(f'Options file {path} must hold a mapping of options, got {type(opt).__name__}.')
    return opt


def _parse_override_value(text):
    """A --force_yml value as a YAML scalar or list; an unquoted '1e-4' (a string to YAML 1.1) is read as a float."""
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    if isinstance(value, str) and text[:1] not in '\'"' and _LOOKS_NUMERIC.match(value.strip()):
        return float(value)
    return value


def apply_overrides(opt, overrides, source='<options>'):
    """Apply BasicSR's --force_yml entries ``key:sub=value`` to `opt` in place; returns the dotted keys set."""
    keys_set = []
    for entry in overrides or ():
        name, sep, text = entry.partition('=')
        keys = [k.strip() for k in name.split(':')]
        if not sep or not all(keys):
            raise OptionsError(
                f'--force_yml entry {entry!r} must look like key:sub=value (e.g. train:ema_decay=0.999).')
        node = opt
        for i, key in enumerate(keys[:-1]):
            if node.get(key) is None:
                node[key] = {}
            elif not isinstance(node[key], dict):
                raise OptionsError(f"--force_yml entry {entry!r} goes into option `{'.'.join(keys[:i + 1])}` of "
                                   f'{source}, which is not a section.')
            node = node[key]
        node[keys[-1]] = _parse_override_value(text.strip())
        keys_set.append('.'.join(keys))
    return keys_set


def validate_options(opt, source='<options>', is_train=True, overridden=()):
    """`opt` checked against SCHEMA (types normalised, e.g. ``5e3`` -> 5000) and the files it names checked to
    exist; returns the checked copy. Problems are one OptionsError naming each key and `source`."""
    run = _Run(source, is_train, overridden)
    checked = _check(SCHEMA, opt, '', run, None)
    _check_paths(checked, run)
    run.raise_if_any()
    return checked


def _replaced_on_resume(key, opt):
    """Whether the file of option `key` is not used because training resumes (BasicSR's check_resume: a
    resumed network loads from experiments/<name>/models/, unless listed in path.ignore_resume_networks)."""
    path_opt = opt.get('path') or {}
    if not key.startswith('path.pretrain_network') or not path_opt.get('resume_state'):
        return False
    network = key.split('.', 1)[1][len('pretrain_'):]
    return network not in (path_opt.get('ignore_resume_networks') or [])


def _set_option(opt, dotted_key, value):
    *parents, name = dotted_key.split('.')
    for part in parents:
        opt = opt[part]
    opt[name] = value


def _check_paths(opt, run):
    """Every file an option names must exist. A missing pretrained file of the catalogue is looked for where
    ``resolve_weights`` looks (the option then names the copy found) or listed for the download command."""
    from gfpgan.utils.pretrained import PRETRAINED
    for key, given, path in run.paths:
        if os.path.exists(path) or _replaced_on_resume(key, opt):
            continue
        if os.path.basename(path) in PRETRAINED and '[' not in key:
            found = run.problems.weights(path, f'option `{key}` in {run.source}')
            if found is not None:
                _set_option(opt, key, found)
            continue
        where = '' if os.path.isabs(path) else f' (relative to {os.getcwd()})'
        run.record(key, f"names '{given}', which does not exist{where}")


def _section(opt, *keys):
    """The mapping at ``opt[k1][k2]...``, or {} where a key is absent or not a mapping (already a problem)."""
    for key in keys:
        opt = opt.get(key) if isinstance(opt, dict) else None
    return opt if isinstance(opt, dict) else {}


def _frozen_networks_problems(opt, run):
    """The identity loss and the perceptual loss need their pretrained network: a random one is refused unless
    the options say it is intended (``path.allow_random_network_identity``, ``perceptual_opt.pretrained: false``)."""
    path_opt = _section(opt, 'path')
    if isinstance(opt.get('network_identity'), dict) and not path_opt.get('pretrain_network_identity') \
            and not path_opt.get('allow_random_network_identity'):
        run.record(
            'path.pretrain_network_identity', 'is empty, so the identity loss would compare faces with a random, '
            'frozen ArcFace: set it to experiments/pretrained_models/arcface_resnet18.pth (or remove '
            '`network_identity` to train without the identity loss; `path.allow_random_network_identity: true` '
            'if a random network is intended)')
    perceptual = _section(opt, 'train', 'perceptual_opt')
    if perceptual.get('type') == 'PerceptualLoss':
        pretrained = perceptual.get('pretrained', True)
        if isinstance(pretrained, str):
            run.problems.weights(pretrained, f'option `train.perceptual_opt.pretrained` in {run.source}')
        elif pretrained:
            from gfpgan.archs.vgg_arch import _torchvision_weights
            try:
                filename, _ = _torchvision_weights(perceptual.get('vgg_type', 'vgg19'))
            except AttributeError:
                run.record('train.perceptual_opt.vgg_type', f"names {perceptual.get('vgg_type')!r}, which is not "
                           'a torchvision VGG (vgg11 ... vgg19, with _bn)')
                return
            run.problems.weights(filename, f'the VGG of option `train.perceptual_opt` in {run.source}')


def _network_problems(opt, run):
    """Each network must build from its options: built on the meta device (no memory, no weight loading), so an
    impossible ``out_size`` or a bad argument is found before any folder exists; out sizes must agree."""
    known = registered_types('arch')
    built = True
    for key, net_opt in opt.items():
        if not key.startswith('network_') or not isinstance(net_opt, dict) or net_opt.get('type') not in known:
            continue
        kwargs = {k: v for k, v in net_opt.items() if k != 'type'}
        accepted = keyword_names(known[net_opt['type']])
        if accepted is not None and not set(kwargs) <= accepted:
            continue  # the unknown keywords are already reported
        if 'decoder_load_path' in kwargs:
            kwargs['decoder_load_path'] = None
        try:
            with torch.device('meta'):
                known[net_opt['type']](**kwargs)
        except Exception as err:  # noqa: BLE001 - any constructor error is a problem of these options
            message = str(err).strip().rstrip('.') or type(err).__name__
            message = message.removeprefix(f"{net_opt['type']}: ")
            run.record(key, f"cannot build {net_opt['type']} with these options: {message}")
            built = False
    if not built:
        return
    sizes = {'datasets.train.out_size': _section(opt, 'datasets', 'train').get('out_size')}
    sizes.update({f'{key}.out_size': _section(opt, key).get('out_size') for key in ('network_g', 'network_d')})
    given = {key: size for key, size in sizes.items() if isinstance(size, int)}
    if len(set(given.values())) > 1:
        listed = ', '.join(f'`{key}` {size}' for key, size in given.items())
        run.problems.add(f'Options {listed} in {run.source} must be equal: the networks see the training faces at '
                         'that size.')


def _check_training(opt, run):
    """What a training needs beyond the schema: buildable networks, pretrained frozen networks, a writable
    experiment folder."""
    _network_problems(opt, run)
    _frozen_networks_problems(opt, run)
    path_opt = _section(opt, 'path')
    for key in ('experiments_root', 'tb_logger'):
        if path_opt.get(key):
            run.problems.output_folder(path_opt[key], f'The experiment folder of {run.source}')


# ---------------------------------------------------------------------------------------------- the run
def latest_training_state(folder):
    """Path of the newest ``<iter>.state`` in `folder` (by iteration), or None."""
    if not os.path.isdir(folder):
        return None
    states = [(int(name[:-6]), name) for name in os.listdir(folder) if re.fullmatch(r'\d+\.state', name)]
    return os.path.join(folder, max(states)[1]) if states else None


def _fill_paths(opt, root_path):
    """BasicSR's layout: experiments/<name>/{models,training_states,visualization} + tb_logger/<name> when
    training, results/<name>/visualization when testing; logs go to the run's folder."""
    if opt.get('path') is None:
        opt['path'] = {}
    path_opt, name = opt['path'], opt['name']
    if opt['is_train']:
        root = os.path.join(root_path, 'experiments', name)
        path_opt.update(
            experiments_root=root,
            models=os.path.join(root, 'models'),
            training_states=os.path.join(root, 'training_states'),
            log=root,
            visualization=os.path.join(root, 'visualization'),
            tb_logger=os.path.join(root_path, 'tb_logger', name))
    else:
        root = os.path.join(root_path, 'results', name)
        path_opt.update(results_root=root, log=root, visualization=os.path.join(root, 'visualization'))


def _apply_debug(opt):
    """BasicSR's debug mode (a name starting with 'debug'): validate and save every 8 iterations, log every one,
    no TensorBoard or wandb."""
    if opt.get('val') is not None:
        opt['val']['val_freq'] = DEBUG_SETTINGS['val_freq']
    if opt.get('logger') is None:
        opt['logger'] = {}
    logger_opt = opt['logger']
    logger_opt['print_freq'] = DEBUG_SETTINGS['print_freq']
    logger_opt['save_checkpoint_freq'] = DEBUG_SETTINGS['save_checkpoint_freq']
    logger_opt['use_tb_logger'] = False
    if logger_opt.get('wandb') is not None:
        logger_opt['wandb']['project'] = None


def _sync_dist_state(opt):
    """Record the distributed state; rank 0's manual_seed becomes everyone's (a drawn seed differs per rank)."""
    opt['rank'], opt['world_size'] = get_dist_info()
    opt['dist'] = opt['world_size'] > 1
    opt['manual_seed'] = broadcast_object(opt['manual_seed'])


def load_options(path, overrides=(), is_train=True, debug=False, root_path=None, auto_resume=False):
    """Read, override (--force_yml entries) and validate the options file `path`, then fill what the run needs.

    Filled: is_train, dist / rank / world_size (current process group), num_gpu ('auto' or absent -> visible CUDA
    devices), manual_seed (drawn when absent), datasets.*.phase (and scale), the experiment paths, with
    `auto_resume` path.resume_state (newest training state), and with `debug` BasicSR's debug mode.
    `root_path` (default: the working directory) holds experiments/, results/ and tb_logger/.
    """
    path = os.fspath(path)
    opt = read_yaml(path)
    overridden = apply_overrides(opt, overrides, path)
    run = _Run(path, is_train, overridden)
    opt = _check(SCHEMA, opt, '', run, None)
    if not isinstance(opt.get('name'), str) or not isinstance(opt.get('datasets'), dict):
        run.raise_if_any()  # the rest needs these two

    opt['is_train'] = is_train
    opt['auto_resume'] = bool(auto_resume)
    opt['root_path'] = os.path.abspath(root_path or os.getcwd())
    opt['opt_path'] = path
    opt['force_yml'] = list(overrides or ())
    if opt.get('num_gpu') in (None, 'auto'):
        opt['num_gpu'] = torch.cuda.device_count()
    if opt.get('manual_seed') is None:
        opt['manual_seed'] = random.randint(1, 10000)
    _sync_dist_state(opt)
    if debug and not opt['name'].startswith('debug'):
        opt['name'] = f"debug_{opt['name']}"
    for phase, dataset in opt['datasets'].items():
        if not isinstance(dataset, dict):
            continue
        dataset['phase'] = phase.split('_')[0]
        if 'scale' in opt:
            dataset['scale'] = opt['scale']
    _fill_paths(opt, opt['root_path'])
    if is_train:
        if auto_resume:
            state = latest_training_state(opt['path']['training_states'])
            if state is not None:
                opt['path']['resume_state'] = state
        if opt['name'].startswith('debug'):
            _apply_debug(opt)
    _check_paths(opt, run)
    if is_train:
        _check_training(opt, run)
    run.raise_if_any()
    return opt


# ---------------------------------------------------------------------------------------------- command line
_EPILOG = """\
examples:
  python train.py -opt options/train_gfpgan_v1.yml
  python train.py -opt options/train_gfpgan_v1.yml --debug --force_yml train:total_iter=100 num_gpu=0
  torchrun --nproc_per_node=4 train.py -opt options/train_gfpgan_v1.yml --launcher pytorch
  srun --ntasks=8 --gres=gpu:4 python train.py -opt options/train_gfpgan_v1.yml --launcher slurm
"""


def parse_args(argv=None):
    """The command line of train.py (BasicSR's flags); `local_rank` falls back to $LOCAL_RANK, then 0."""
    parser = argparse.ArgumentParser(
        description='Train a GFPGAN model from a YAML options file.',
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('-opt', required=True, metavar='PATH', help='the options YAML file (BasicSR schema)')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm'],
        default='none',
        help="how the processes were started: 'none' = one process (default), 'pytorch' = torchrun or "
        "torch.distributed.launch (env://), 'slurm' = srun (ranks from SLURM_PROCID / SLURM_NTASKS)")
    parser.add_argument(
        '--auto_resume',
        action='store_true',
        help='resume from the newest experiments/<name>/training_states/<iter>.state, if there is one')
    parser.add_argument(
        '--debug',
        action='store_true',
        help="prefix the name with 'debug_', log every iteration, validate and save every 8, no TensorBoard")
    parser.add_argument(
        '--local_rank',
        '--local-rank',
        dest='local_rank',
        type=int,
        default=None,
        help='GPU index on this node, passed by torch.distributed.launch (either spelling); default $LOCAL_RANK')
    parser.add_argument(
        '--force_yml',
        nargs='+',
        default=None,
        metavar='KEY:SUB=VALUE',
        help='override options, e.g. train:ema_decay=0.999 datasets:train:batch_size_per_gpu=2; values are YAML '
        'scalars or lists ([1, 2], ~, true, 1e-4)')
    args = parser.parse_args(argv)
    if args.local_rank is None:
        env = os.environ.get('LOCAL_RANK', '0')
        if not env.strip().isdigit():
            parser.error(f'the environment variable LOCAL_RANK must be an integer, got {env!r}')
        args.local_rank = int(env)
    return args


def parse_options(argv=None, root_path=None, is_train=True):
    """train.py's start-up: parse the command line, load and validate the options (before any heavy work), then
    join the process group of the launcher. Returns (opt, args). Seeding is left to the caller."""
    args = parse_args(argv)
    world = os.environ.get('WORLD_SIZE', '1')
    if args.launcher == 'none' and world.isdigit() and int(world) > 1:
        raise OptionsError(f'This process is one of {world} started by a launcher (WORLD_SIZE={world}) but '
                           '--launcher is none: add --launcher pytorch (torchrun) or --launcher slurm.')
    opt = load_options(args.opt, args.force_yml or (), is_train, args.debug, root_path, args.auto_resume)
    if args.launcher != 'none':
        dist_params = opt.get('dist_params') or {}
        init_dist(
            args.launcher,
            backend=dist_params.get('backend'),
            port=dist_params.get('port'),
            local_rank=args.local_rank if args.launcher == 'pytorch' else None)
        _sync_dist_state(opt)
    return opt, args


# ---------------------------------------------------------------------------------------------- experiment folders
def _time_str():
    return time.strftime('%Y%m%d_%H%M%S', time.localtime())


def _archive(path):
    """Rename an existing `path` to ``<path>_archived_<time>`` (never deleting anything); returns the new name."""
    new = f'{path}_archived_{_time_str()}'
    count = 1
    while os.path.exists(new):
        new = f'{path}_archived_{_time_str()}_{count}'
        count += 1
    os.rename(path, new)
    return new


def _copy_options_file(opt, folder):
    """Copy the options file as given into `folder`, its top noting when, the command and the overrides."""
    source = opt['opt_path']
    stem, ext = os.path.splitext(os.path.basename(source))
    target = os.path.join(folder, stem + ext)
    count = 0
    while os.path.exists(target):  # a resumed run keeps the earlier copies
        count += 1
        target = os.path.join(folder, f'{stem}_{_time_str()}{"_" + str(count) if count > 1 else ""}{ext}')
    header = [f'# Copied at {time.asctime()} from {os.path.abspath(source)}', f'# CMD: {shlex.join(sys.argv)}']
    header += [f'# --force_yml {entry}' for entry in opt.get('force_yml') or ()]
    with open(source, 'rb') as f:
        content = f.read()
    with atomic_write(target) as f:
        f.write(('\n'.join(header) + '\n\n').encode('utf-8') + content)
    return target


@master_only
def make_exp_dirs(opt):
    """Create the run's folders (rank 0 only) and copy the options file into it; returns
    {'options_copy': path, 'archived': {old: new}}.

    Not resuming, an existing experiments/<name> (results/<name>, tb_logger/<name>) is renamed to
    ``<name>_archived_<time>`` first; nothing is overwritten or deleted.
    """
    path_opt = opt['path']
    root = path_opt['experiments_root'] if opt['is_train'] else path_opt['results_root']
    folders = [root] + [path_opt[k] for k in ('models', 'training_states', 'visualization') if path_opt.get(k)]
    archived = {}
    resuming = bool(path_opt.get('resume_state'))
    tb_dir = path_opt.get('tb_logger') if (opt.get('logger') or {}).get('use_tb_logger') else None
    if not resuming:
        for folder in (root, tb_dir):
            if folder and os.path.exists(folder):
                archived[folder] = _archive(folder)
                print(f'{folder} already exists: renamed it to {archived[folder]}', flush=True)
    for folder in folders + ([tb_dir] if tb_dir else []):
        os.makedirs(folder, exist_ok=True)
    return {'options_copy': _copy_options_file(opt, root), 'archived': archived}


def log_file_path(opt):
    """``<path.log>/<train|test>_<name>_<time>.log``, BasicSR's log file name."""
    phase = 'train' if opt['is_train'] else 'test'
    return os.path.join(opt['path']['log'], f"{phase}_{opt['name']}_{_time_str()}.log")


def _option_lines(opt, indent_level):
    for key, value in opt.items():
        pad = '  ' * indent_level
        if isinstance(value, dict) and value:
            yield f'{pad}{key}:'
            yield from _option_lines(value, indent_level + 1)
        else:
            yield f'{pad}{key}: {value}'


def dict2str(opt, indent_level=1):
    """The options as indented ``key: value`` lines (nested sections indented further), after a line break."""
    return '\n' + '\n'.join(_option_lines(opt, indent_level))
