"""The option spec vocabulary: how one option or one section of the YAML options is checked (`Value`, `ListOf`,
`OneOf`, `FilePath`, `TypeName`, `Section`, `Component`), and the state of one check (`CheckRun`).

A spec's `check` returns the value normalised or raises `_Invalid` with the end of the error sentence; the
section specs turn that into one :class:`OptionsError` naming the dotted key and the YAML file, and collect every
problem of a file so that they are reported together. Components (datasets, the data loader, networks, losses,
metrics) declare their own options with this vocabulary; :mod:`gfpgan.config.schema` composes them.
"""
import difflib
import fnmatch
import inspect
import math
import numbers
import os
import re

from gfpgan.preflight import Preflight, PreflightError, did_you_mean

__all__ = [
    'OptionsError', 'CheckRun', 'Spec', 'Value', 'ListOf', 'OneOf', 'FilePath', 'TypeName', 'Section', 'Component',
    'keyword_names', 'check_spec', 'check_or_record', 'LOOKS_NUMERIC', 'Range', 'Probability', 'Fraction',
    'PositiveInt', 'problem_of'
]


class OptionsError(PreflightError):
    """Bad options: one sentence naming the option (dotted key) and the YAML file, or several such problems of
    one file listed together (``problems``)."""


class _Invalid(Exception):
    """Raised by a spec with the end of the error sentence (what the value must be)."""


_KIND_WORDS = {
    'int': 'an integer',
    'number': 'a number',
    'str': 'a string',
    'bool': 'true or false',
    'list': 'a list',
    'dict': 'a mapping'
}
LOOKS_NUMERIC = re.compile(r'^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$')


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


class CheckRun:
    """State of one validation: the file named in errors, the overridden keys, the phase, the paths to check, and
    `registered_types(kind)` -> ``{type name: class}``, the components that `TypeName` and `Component` accept
    (given by the caller, so that this vocabulary knows no registry and any component can use it)."""

    def __init__(self, source, is_train, overridden=(), registered_types=None):
        self.source = source
        self.is_train = is_train
        self.overridden = set(overridden)
        self.registered_types = registered_types or (lambda kind: {})
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
        self.problems.raise_if_any(error=OptionsError)


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
            if self.kind in ('int', 'number') and isinstance(value, str) and LOOKS_NUMERIC.match(value.strip()):
                hint = (f' (YAML reads {value} as a string: write it with a decimal point, e.g. 1.0e-3, or as '
                        f'!!float {value})' if 'e' in value.lower() and '.' not in value else ' (remove the quotes)')
            raise _Invalid(f'must be {self.describe()}, got {value!r}{hint}')
        if (self.minimum is not None and converted < self.minimum) or (self.maximum is not None
                                                                       and converted > self.maximum):
            raise _Invalid(f'must be {self.describe()}, got {value!r}')
        return converted


class Range(Spec):
    """A ``[low, high]`` pair of numbers with `minimum` <= low <= high <= `maximum`, returned as two floats."""

    def __init__(self, minimum=-math.inf, maximum=math.inf, **kwargs):
        super().__init__(**kwargs)
        self.minimum, self.maximum = minimum, maximum

    def describe(self):
        return f'[low, high] with {self.minimum:g} <= low <= high <= {self.maximum:g}'

    def check_value(self, value, key, run, parent):
        try:
            low, high = (float(v) for v in value)
        except (TypeError, ValueError):
            low = high = math.nan
        if not self.minimum <= low <= high <= self.maximum:
            raise _Invalid(f'must be {self.describe()}, got {value!r}')
        return [low, high]


class Probability(Value):
    """A number in [0, 1] (NaN refused); ``~`` (the step it drives never happens) unless not `nullable`."""

    def __init__(self, **kwargs):
        super().__init__('number', minimum=0, maximum=1, **kwargs)

    def describe(self):
        return 'a probability in [0, 1] or ~'

    def check_value(self, value, key, run, parent):
        converted = super().check_value(value, key, run, parent)
        if not 0 <= converted <= 1:
            raise _Invalid(f'must be {self.describe()}, got {value!r}')
        return converted


class Fraction(Value):
    """A number in [0, 1), a share of something that must leave some of it (NaN refused)."""

    def __init__(self, **kwargs):
        super().__init__('number', minimum=0, maximum=1, **kwargs)

    def describe(self):
        return 'a number in [0, 1)'

    def check_value(self, value, key, run, parent):
        converted = super().check_value(value, key, run, parent)
        if not 0 <= converted < 1:
            raise _Invalid(f'must be {self.describe()}, got {value!r}')
        return converted


class PositiveInt(Value):
    """An integer >= 1 (numpy integers and integral floats accepted), a size or a count."""

    def __init__(self, **kwargs):
        super().__init__('int', minimum=1, **kwargs)

    def describe(self):
        return 'a positive integer'

    def _converted(self, value):
        if isinstance(value, numbers.Integral) and not isinstance(value, bool):
            return int(value)
        return super()._converted(value)


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
        return [check_spec(self.item, v, f'{key}[{i}]', run, value) for i, v in enumerate(value)]


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
    """The name of a registered component of `kind` (`registered_types`), e.g. ``model_type``."""

    def __init__(self, kind, **kwargs):
        super().__init__('str', **kwargs)
        self.registry = kind

    def check_value(self, value, key, run, parent):
        name = super().check_value(value, key, run, parent)
        known = run.registered_types(self.registry)
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
                out[name] = check_or_record(spec, item, sub, run, value)
        self.check_required(value, key, run)
        return out

    def check_required(self, value, key, run):
        for name, spec in self.fields.items():
            if name not in value and not any(c in name for c in '*?[') and spec.is_required(run.is_train):
                run.record(f'{key}.{name}' if key else name, 'is required but missing')


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
    `type` that must be registered in `registry` (a kind of `registered_types`); `fields` are checked when
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
            out[name] = item if spec is None else check_or_record(spec, item, f'{key}.{name}', run, value)
        self.check_required(value, key, run)
        return out

    def check_type(self, type_name, value, key, run):
        known = run.registered_types(self.registry)
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


def check_spec(spec, value, key, run, parent):
    """`spec.check` with its _Invalid turned into the OptionsError naming `key` and the file."""
    try:
        return spec.check(value, key, run, parent)
    except _Invalid as err:
        raise run.error(key, str(err)) from None


def check_or_record(spec, value, key, run, parent):
    """`check_spec`, a problem being recorded in `run` (the value then kept as it is) instead of raised."""
    try:
        return check_spec(spec, value, key, run, parent)
    except OptionsError as err:
        run.problems.add(str(err))
        return value


def problem_of(spec, value, key=''):
    """(value checked by `spec` alone, None) or (`value`, why it fails: 'must be ..., got ...'), for a component
    that checks its own options outside a validation (no file, no registries, paths not looked up)."""
    try:
        return spec.check(value, key, CheckRun('', is_train=True), None), None
    except _Invalid as err:
        return value, str(err)
    except OptionsError:  # an item of a list: the reason is said of the whole value
        return value, f'must be {spec.describe()}, got {value!r}'
