"""LPIPS (Zhang et al. 2018) through the ``lpips`` package, lower is closer (``val.metrics`` type
``calculate_lpips``).

Protocol: (H, W, 3) BGR uint8 -> RGB in [-1, 1] -> ``lpips.LPIPS`` v0.1 (VGG16 by default, AlexNet with
``net='alex'``), spatially averaged. The small linear layers come from the package's own files; the backbone is
torchvision's ImageNet file (``vgg16-397923af.pth`` / ``alexnet-owt-7be5be79.pth``), resolved like every other
pretrained file here (local path, ``experiments/pretrained_models/``, caches, URL) instead of letting torchvision
download it, and read without executing code.
"""
import functools
import os
import warnings

import torch

from gfpgan.registry import METRIC_REGISTRY
from gfpgan.utils.checkpoint import CheckpointError, extract_state_dict, load_checkpoint_file
from gfpgan.utils.img_util import bgr_to_tensor
from gfpgan.utils.optional import import_optional
from gfpgan.utils.weights import resolve_weights

from .base import Metric
from .metric_util import check_bgr_uint8, resolve_device

__all__ = ['LPIPSMetric', 'BACKBONE_WEIGHTS', 'calculate_lpips', 'required_weights', 'REQUIRED_PACKAGE']

# torchvision's ImageNet release files (in the pretrained catalogue)
BACKBONE_WEIGHTS = {'vgg': 'vgg16-397923af.pth', 'alex': 'alexnet-owt-7be5be79.pth'}
REQUIRED_PACKAGE = 'lpips'


def required_weights(net='vgg', weights=None):
    """(file name or path, what it is) of the pretrained file LPIPSMetric(net, weights) loads (the small linear
    layers ship with the lpips package)."""
    if net not in BACKBONE_WEIGHTS:
        raise ValueError(f"LPIPSMetric net must be one of {sorted(BACKBONE_WEIGHTS)}, got {net!r}.")
    return [(BACKBONE_WEIGHTS[net] if weights is None else weights, f'the LPIPS {net} backbone')]


# smallest side that still leaves every backbone stage a non-empty feature map
_MIN_SIZE = {'vgg': 16, 'alex': 31}


class LPIPSMetric(Metric):
    """LPIPS distance between images; frozen, in eval mode.

    Args:
        net (str): 'vgg' (default, as in the GFPGAN paper's tables) or 'alex'.
        weights (str | None): torchvision backbone weights (a path or a file name looked up like other pretrained
            files); None: the default torchvision file for ``net``. Only used with ``pretrained``.
        device (str | torch.device | None): None picks CUDA when available, else the CPU.
        pretrained (bool): False builds a random backbone and random linear layers (for tests, no file read); the
            random linear weights are made non-negative, as trained LPIPS weights are, so the value stays >= 0.

    ``metric(img, img2) -> float`` for (H, W, 3) BGR uint8 images of one shape;
    ``metric.distance(x, y) -> (B,)`` for (B, 3, H, W) RGB tensors in [-1, 1].
    """

    name, label, higher_is_better = 'lpips', 'LPIPS', False
    required_package = (REQUIRED_PACKAGE, 'The LPIPS metric')

    @classmethod
    def required_weights(cls, net='vgg', weights=None, **options):
        return required_weights(net, weights)

    def __init__(self, net='vgg', weights=None, device=None, pretrained=True):
        if net not in BACKBONE_WEIGHTS:
            raise ValueError(f"LPIPSMetric net must be one of {sorted(BACKBONE_WEIGHTS)}, got {net!r}.")
        self.net_name = net
        self.device = resolve_device(device)
        path = self._backbone_path(net, weights) if pretrained else None  # fails fast, before any network is built

        lpips = import_optional('lpips', 'The LPIPS metric')
        with warnings.catch_warnings():
            # lpips asks torchvision for the backbone with the deprecated `pretrained` argument
            warnings.filterwarnings('ignore', message='.*(pretrained|weight enum).*', category=UserWarning)
            self.model = lpips.LPIPS(pretrained=False, net=net, version='0.1', pnet_rand=True, verbose=False)
        if pretrained:
            self._load_linear_layers(lpips)
            self._load_backbone(path)
        else:
            with torch.no_grad():
                for lin in self.model.lins:
                    lin.model[-1].weight.abs_()
        self.model = self.model.to(self.device).eval()
        for param in self.model.parameters():
            param.requires_grad = False

    @staticmethod
    def _backbone_path(net, weights):
        return resolve_weights(BACKBONE_WEIGHTS[net] if weights is None else weights)

    def _load_linear_layers(self, lpips_module):
        path = os.path.join(
            os.path.dirname(os.path.abspath(lpips_module.__file__)), 'weights', 'v0.1', f'{self.net_name}.pth')
        state_dict = load_checkpoint_file(path)
        # lin0..lin4 and lins.0..lins.4 are the same modules; the file names them lin<i>
        expected = [f'lin{i}.{key}' for i, lin in enumerate(self.model.lins) for key in lin.state_dict()]
        missing = [k for k in expected if k not in state_dict]
        unexpected = [k for k in state_dict if k not in expected]
        if missing or unexpected:
            raise CheckpointError(f"The lpips package's linear weights '{path}' do not fit its {self.net_name} "
                                  f'network (missing {missing}, unexpected {unexpected}).')
        self.model.load_state_dict(state_dict, strict=False)

    def _load_backbone(self, path):
        """torchvision ``features.<i>.<param>`` keys -> lpips ``slice<k>.<i>.<param>`` (the slices keep the indices)."""
        backbone = self.model.net
        slice_of = {}
        for slice_name, block in backbone.named_children():
            for index, _ in block.named_children():
                slice_of[index] = slice_name
        state_dict = extract_state_dict(load_checkpoint_file(path), param_key=None)
        own = {}
        for key, value in state_dict.items():
            parts = key.split('.')
            if len(parts) == 3 and parts[0] == 'features' and parts[1] in slice_of:
                own[f'{slice_of[parts[1]]}.{parts[1]}.{parts[2]}'] = value
        expected = backbone.state_dict()
        missing = [k for k in expected if k not in own]
        mismatched = [
            f'{k} {tuple(v.shape)} vs {tuple(expected[k].shape)}' for k, v in own.items()
            if k in expected and v.shape != expected[k].shape
        ]
        if missing or mismatched:
            problem = f'missing {", ".join(missing[:3])}' if missing else f'shape mismatch {", ".join(mismatched[:3])}'
            raise CheckpointError(f"'{path}' is not a torchvision {self.net_name} state_dict that fits LPIPS "
                                  f'({problem}).')
        backbone.load_state_dict(own, strict=True)

    @torch.no_grad()
    def distance(self, x, y):
        """LPIPS of (B, 3, H, W) RGB float tensors in [-1, 1] -> (B,) tensor on the metric's device."""
        for t in (x, y):
            if not torch.is_tensor(t) or t.ndim != 4 or t.shape[1] != 3 or not t.is_floating_point():
                got = f'{t.dtype} tensor of shape {tuple(t.shape)}' if torch.is_tensor(t) else type(t).__name__
                raise ValueError(f'LPIPSMetric.distance expects (B, 3, H, W) float RGB tensors, got a {got}.')
        if x.shape != y.shape:
            raise ValueError(f'LPIPSMetric.distance needs tensors of one shape, got {tuple(x.shape)} and '
                             f'{tuple(y.shape)}.')
        if min(x.shape[2:]) < _MIN_SIZE[self.net_name]:
            raise ValueError(f'LPIPS with {self.net_name} needs images of at least {_MIN_SIZE[self.net_name]} pixels '
                             f'a side, got {tuple(x.shape[2:])}.')
        x, y = x.to(self.device, torch.float32), y.to(self.device, torch.float32)
        low, high = min(x.min().item(), y.min().item()), max(x.max().item(), y.max().item())
        if low < -1.001 or high > 1.001:
            raise ValueError(f'LPIPSMetric.distance expects values in [-1, 1], got [{low:.3g}, {high:.3g}].')
        return self.model(x, y).view(-1)

    def __call__(self, img, img2):
        """LPIPS of two (H, W, 3) BGR uint8 images of one shape, as a float."""
        check_bgr_uint8(img, 'LPIPSMetric')
        check_bgr_uint8(img2, 'LPIPSMetric')
        if img.shape != img2.shape:
            raise ValueError(f'LPIPSMetric needs images of one shape, got {img.shape} and {img2.shape}.')
        pair = bgr_to_tensor([img, img2], (-1, 1))  # (2, 3, H, W) RGB
        return float(self.distance(pair[:1], pair[1:])[0])

    def __repr__(self):
        return f'{type(self).__name__}(net={self.net_name!r}, device={str(self.device)!r})'


@functools.lru_cache(maxsize=None)
def _shared_metric(net, weights, device):
    return LPIPSMetric(net=net, weights=weights, device=device)


@METRIC_REGISTRY.register()
def calculate_lpips(img, img2, net='vgg', weights=None, device=None, **kwargs):
    """LPIPS of two (H, W, 3) BGR uint8 images of one shape (lower is closer). The network is built once per
    (net, weights, device) and reused across calls."""
    weights = os.fspath(weights) if weights is not None else None
    return _shared_metric(net, weights, str(resolve_device(device)))(img, img2)
