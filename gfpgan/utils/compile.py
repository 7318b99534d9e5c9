"""``torch.compile`` with a way back: a compiled forward that falls back to the eager module, logging one line,
when compilation is unavailable or fails (no C++ compiler or Triton, an unsupported op, an old PyTorch)."""
import logging

import torch

__all__ = ['CompiledForward']

logger = logging.getLogger('gfpgan')

#: Errors that the eager module would raise as well: passed on, never a reason to give up compilation.
_NOT_COMPILE_ERRORS = (ValueError, TypeError, torch.cuda.OutOfMemoryError, KeyboardInterrupt)


class CompiledForward:
    """Calls ``torch.compile(module)``; on the first failure of compilation, ``module`` itself from then on.

    Not an ``nn.Module``: it holds no parameters of its own, so checkpoints, ``state_dict`` and DDP see only
    ``module``. ``name`` labels the log line.
    """

    def __init__(self, module, name, **compile_kwargs):
        self.module = module
        self.name = name
        try:
            self.compiled = torch.compile(module, **compile_kwargs)
        except Exception as err:  # noqa: BLE001 - any failure to set up compilation means: run eagerly
            self._give_up(err)

    def _give_up(self, err):
        self.compiled = None
        logger.warning('torch.compile of %s is unavailable (%s: %s); running it eagerly.', self.name,
                       type(err).__name__,
                       str(err).strip().splitlines()[0] if str(err).strip() else '')

    @property
    def active(self):
        """Whether calls still go through the compiled module."""
        return self.compiled is not None

    def __call__(self, *args, **kwargs):
        if self.compiled is not None:
            try:
                return self.compiled(*args, **kwargs)
            except _NOT_COMPILE_ERRORS:
                raise
            except Exception as err:  # noqa: BLE001 - a compiler failure: the eager module computes the same
                self._give_up(err)
        return self.module(*args, **kwargs)
