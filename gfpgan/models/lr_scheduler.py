"""Learning-rate schedules of the ``train.scheduler`` option (BasicSR's semantics), stepped once per iteration."""
import bisect
import math
from collections import Counter

from torch.optim.lr_scheduler import LRScheduler

from gfpgan.registry import SCHEDULER_REGISTRY


@SCHEDULER_REGISTRY.register()
@SCHEDULER_REGISTRY.register(name='MultiStepLR')
class MultiStepRestartLR(LRScheduler):
    """Multiply the rate by ``gamma`` at each milestone; at a restart iteration reset it to ``initial_lr`` times
    that restart's weight. ``MultiStepLR`` in the YAML means this class."""

    def __init__(self, optimizer, milestones, gamma=0.1, restarts=(0, ), restart_weights=(1, ), last_epoch=-1):
        if len(restarts) != len(restart_weights):
            raise ValueError(f'scheduler restarts {list(restarts)} and restart_weights {list(restart_weights)} '
                             'must have the same length.')
        self.milestones = dict(Counter(int(m) for m in milestones))  # a plain dict: states load weights_only
        self.gamma = gamma
        self.restarts = [int(r) for r in restarts]
        self.restart_weights = list(restart_weights)
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        groups = self.optimizer.param_groups
        if self.last_epoch in self.restarts:
            weight = self.restart_weights[self.restarts.index(self.last_epoch)]
            return [group['initial_lr'] * weight for group in groups]
        factor = self.gamma**self.milestones.get(self.last_epoch, 0)
        return [group['lr'] * factor for group in groups]


@SCHEDULER_REGISTRY.register()
class CosineAnnealingRestartLR(LRScheduler):
    """Cosine annealing from the base rate (times the cycle's restart weight) to ``eta_min`` over each of the
    consecutive ``periods``."""

    def __init__(self, optimizer, periods, restart_weights=(1, ), eta_min=0, last_epoch=-1):
        if len(periods) != len(restart_weights):
            raise ValueError(f'scheduler periods {list(periods)} and restart_weights {list(restart_weights)} must '
                             'have the same length.')
        self.periods = [int(p) for p in periods]
        self.restart_weights = list(restart_weights)
        self.eta_min = eta_min
        self.cumulative_period = [sum(self.periods[:i + 1]) for i in range(len(self.periods))]
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        cycle = min(bisect.bisect_left(self.cumulative_period, self.last_epoch), len(self.periods) - 1)
        start = self.cumulative_period[cycle - 1] if cycle else 0
        weight, period = self.restart_weights[cycle], self.periods[cycle]
        progress = math.cos(math.pi * (self.last_epoch - start) / period)
        return [self.eta_min + weight * 0.5 * (base - self.eta_min) * (1 + progress) for base in self.base_lrs]


SCHEDULERS = SCHEDULER_REGISTRY  # the former {name: class} dict's name (read by the option schema)


def build_scheduler(optimizer, opt):
    """The scheduler of ``opt`` = ``{'type': name, **kwargs}`` (the ``train.scheduler`` option) for one optimizer."""
    kwargs = dict(opt)
    return SCHEDULER_REGISTRY.get(kwargs.pop('type', None))(optimizer, **kwargs)
