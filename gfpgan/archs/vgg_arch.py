"""VGG feature extractor for the perceptual and style losses: named layers ('conv1_1' ... 'pool5'),
ImageNet weights from torchvision's release files."""
import os
from collections import OrderedDict

import torch
from torch import nn

from gfpgan.registry import ARCH_REGISTRY

__all__ = ['VGGFeatureExtractor', 'vgg_layer_names']

_CONVS_PER_STAGE = {
    'vgg11': (1, 1, 2, 2, 2),
    'vgg13': (2, 2, 2, 2, 2),
    'vgg16': (2, 2, 3, 3, 3),
    'vgg19': (2, 2, 4, 4, 4)
}
_STAGE_CHANNELS = (64, 128, 256, 512, 512)


def vgg_layer_names(vgg_type='vgg19'):
    """Layer names in torchvision ``features`` order, e.g. conv1_1, relu1_1, conv1_2, relu1_2, pool1, ...
    (with bn{stage}_{i} after each conv for the '_bn' types)."""
    base = vgg_type.replace('_bn', '')
    if base not in _CONVS_PER_STAGE:
        raise ValueError(f"vgg_type must be one of {sorted(_CONVS_PER_STAGE)} (optionally with '_bn'), "
                         f"got '{vgg_type}'.")
    names = []
    for stage, n_convs in enumerate(_CONVS_PER_STAGE[base], start=1):
        for i in range(1, n_convs + 1):
            names.append(f'conv{stage}_{i}')
            if vgg_type.endswith('_bn'):
                names.append(f'bn{stage}_{i}')
            names.append(f'relu{stage}_{i}')
        names.append(f'pool{stage}')
    return names


def _torchvision_weights(vgg_type):
    """(file name, URL) of torchvision's ImageNet weights for ``vgg_type``."""
    import torchvision.models as tvm
    enum = getattr(tvm, f'{vgg_type.upper()}_Weights')
    url = enum.IMAGENET1K_V1.url
    return os.path.basename(url), url


@ARCH_REGISTRY.register()
class VGGFeatureExtractor(nn.Module):
    """Features of named VGG layers.

    Args:
        layer_name_list (list[str]): layers to return, e.g. ['conv1_2', 'conv2_2', 'conv3_4', 'conv4_4', 'conv5_4'].
        vgg_type (str): vgg11/13/16/19, optionally with '_bn'. Default 'vgg19'.
        use_input_norm (bool): normalise inputs in [0, 1] with the ImageNet mean/std. Default True.
        range_norm (bool): map inputs from [-1, 1] to [0, 1] first. Default False.
        requires_grad (bool): train the VGG too. Default False (frozen, eval mode).
        remove_pooling (bool): drop the max-pool layers. Default False.
        pooling_stride (int): max-pool stride. Default 2.
        pretrained (bool | str): True: torchvision's ImageNet weights (``experiments/pretrained_models/``,
            then the caches, then the URL; a clear error offline); a path: that state_dict; False: random.

    forward(x (B, 3, H, W)) -> {layer name: (B, C, h, w)}.
    """

    def __init__(self,
                 layer_name_list,
                 vgg_type='vgg19',
                 use_input_norm=True,
                 range_norm=False,
                 requires_grad=False,
                 remove_pooling=False,
                 pooling_stride=2,
                 pretrained=True):
        super().__init__()
        self.layer_name_list = list(layer_name_list)
        self.use_input_norm = use_input_norm
        self.range_norm = range_norm
        self.names = vgg_layer_names(vgg_type)
        unknown = [n for n in self.layer_name_list if n not in self.names]
        if unknown or not self.layer_name_list:
            raise ValueError(f'VGGFeatureExtractor: unknown layer names {unknown or "(empty list)"} for {vgg_type}; '
                             f'valid names are {", ".join(self.names)}.')
        max_idx = max(self.names.index(n) for n in self.layer_name_list)

        # build torchvision's `features` layout up to the last requested layer
        layers = OrderedDict()
        in_ch = 3
        for name in self.names[:max_idx + 1]:
            stage = int(name.lstrip('abcdefghijklmnopqrstuvwxyz')[0])
            if name.startswith('conv'):
                layers[name] = nn.Conv2d(in_ch, _STAGE_CHANNELS[stage - 1], kernel_size=3, padding=1)
                in_ch = _STAGE_CHANNELS[stage - 1]
            elif name.startswith('bn'):
                layers[name] = nn.BatchNorm2d(in_ch)
            elif name.startswith('relu'):
                layers[name] = nn.ReLU(inplace=True)
            elif not remove_pooling:
                layers[name] = nn.MaxPool2d(kernel_size=2, stride=pooling_stride)
        self.vgg_net = nn.Sequential(layers)
        if pretrained:
            self._load_pretrained(vgg_type, pretrained)

        if requires_grad:
            self.vgg_net.train()
        else:
            self.vgg_net.eval()
        for param in self.parameters():
            param.requires_grad = requires_grad
        if use_input_norm:
            self.register_buffer('mean', torch.Tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1))
            self.register_buffer('std', torch.Tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1))

    def _load_pretrained(self, vgg_type, pretrained):
        from gfpgan.utils.checkpoint import extract_state_dict, load_checkpoint_file
        from gfpgan.utils.weights import resolve_weights
        if isinstance(pretrained, (str, os.PathLike)):
            path = resolve_weights(pretrained)
        else:
            filename, url = _torchvision_weights(vgg_type)  # e.g. vgg19-dcbb9e9d.pth: a SHA-256 prefix in the name
            path = resolve_weights(filename, url=url, sha256=filename.rsplit('-', 1)[-1].split('.')[0])
        state_dict = extract_state_dict(load_checkpoint_file(path), param_key=None)
        # torchvision keys are features.<index>.<param>; ours are vgg_net.<name>.<param>
        own = {}
        for key, value in state_dict.items():
            parts = key.split('.')
            if parts[0] != 'features' or not parts[1].isdigit():
                continue
            idx = int(parts[1])
            if idx < len(self.names) and self.names[idx] in self.vgg_net._modules:
                own[f'{self.names[idx]}.{parts[2]}'] = value
        missing = [k for k in self.vgg_net.state_dict() if k not in own]
        if missing:
            raise ValueError(f"VGG weights '{path}' do not fit {vgg_type}: missing {', '.join(missing[:5])}.")
        self.vgg_net.load_state_dict(own, strict=True)

    def forward(self, x):
        if x.ndim != 4 or x.shape[1] != 3:
            raise ValueError(f'VGGFeatureExtractor expects (B, 3, H, W) images, got {tuple(x.shape)}.')
        if self.range_norm:
            x = (x + 1) / 2
        if self.use_input_norm:
            x = (x - self.mean) / self.std
        output = {}
        for key, layer in self.vgg_net._modules.items():
            x = layer(x)
            if key in self.layer_name_list:
                output[key] = x.clone()
        return output
