"""Reading an options file: YAML with every key given once (`read_yaml`), and BasicSR's ``--force_yml
key:sub=value`` overrides (`apply_overrides`); both fail with one OptionsError naming the file or the entry."""
import os

import yaml

from .spec import LOOKS_NUMERIC, OptionsError

__all__ = ['read_yaml', 'apply_overrides']


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
    if isinstance(value, str) and text[:1] not in '\'"' and LOOKS_NUMERIC.match(value.strip()):
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
