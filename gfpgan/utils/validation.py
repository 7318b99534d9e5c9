"""Small checks shared by option readers."""
import numbers


def is_int(value):
    """True for Python and numpy integers, False for bools (a YAML `true` is not a count)."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)
