"""The options as text for the log: indented ``key: value`` lines, BasicSR's `dict2str`."""

__all__ = ['dict2str']


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
