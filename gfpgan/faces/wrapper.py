"""The ``nn.Module`` wrappers of faces/ (detector, parser) answer for the wrapped object: an attribute the wrapper
lacks is the wrapped object's, so code written for facexlib's classes keeps working on them."""
from torch import nn

__all__ = ['Wrapper']


class Wrapper(nn.Module):
    """An ``nn.Module`` around the object in its attribute named ``INNER`` (a submodule or a plain attribute)."""
    INNER = ''

    def __getattr__(self, name):
        try:
            return super().__getattr__(name)
        except AttributeError:
            inner = self.__dict__.get('_modules', {}).get(self.INNER, self.__dict__.get(self.INNER))
            if inner is None or name.startswith('__'):
                raise
            return getattr(inner, name)
