"""ResNet-ArcFace face-recognition network: the identity-preserving loss and the "Deg." metric use its
512-d embedding of a gray 128x128 face (weights: ``arcface_resnet18.pth``)."""
from torch import nn

from gfpgan.registry import ARCH_REGISTRY

__all__ = ['conv3x3', 'BasicBlock', 'IRBlock', 'Bottleneck', 'SEBlock', 'ResNetArcFace']


def conv3x3(inplanes, outplanes, stride=1):
    """3x3 convolution with padding 1 and no bias."""
    return nn.Conv2d(inplanes, outplanes, kernel_size=3, stride=stride, padding=1, bias=False)


class SEBlock(nn.Module):
    """Squeeze-and-excitation: channel gates from global average pooling."""

    def __init__(self, channel, reduction=16):
        super().__init__()
        self.avg_pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Sequential(
            nn.Linear(channel, channel // reduction), nn.PReLU(), nn.Linear(channel // reduction, channel),
            nn.Sigmoid())

    def forward(self, x):
        b, c, _, _ = x.shape
        y = self.fc(self.avg_pool(x).view(b, c)).view(b, c, 1, 1)
        return x * y


class BasicBlock(nn.Module):
    """ResNet basic block (two 3x3 convs), optional SE."""
    expansion = 1

    def __init__(self, inplanes, planes, stride=1, downsample=None, use_se=False):
        super().__init__()
        self.conv1 = conv3x3(inplanes, planes, stride)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample
        self.stride = stride
        self.use_se = use_se
        if use_se:
            self.se = SEBlock(planes)

    def forward(self, x):
        residual = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.use_se:
            out = self.se(out)
        return self.relu(out + residual)


class IRBlock(nn.Module):
    """Improved residual block of ArcFace: BN - conv - BN - PReLU - conv - BN (- SE), shared PReLU."""
    expansion = 1

    def __init__(self, inplanes, planes, stride=1, downsample=None, use_se=True):
        super().__init__()
        self.bn0 = nn.BatchNorm2d(inplanes)
        self.conv1 = conv3x3(inplanes, inplanes)
        self.bn1 = nn.BatchNorm2d(inplanes)
        self.prelu = nn.PReLU()
        self.conv2 = conv3x3(inplanes, planes, stride)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample
        self.stride = stride
        self.use_se = use_se
        if use_se:
            self.se = SEBlock(planes)

    def forward(self, x):
        residual = x if self.downsample is None else self.downsample(x)
        out = self.prelu(self.bn1(self.conv1(self.bn0(x))))
        out = self.bn2(self.conv2(out))
        if self.use_se:
            out = self.se(out)
        return self.prelu(out + residual)


class Bottleneck(nn.Module):
    """ResNet bottleneck block (1x1 - 3x3 - 1x1, expansion 4), optional SE."""
    expansion = 4

    def __init__(self, inplanes, planes, stride=1, downsample=None, use_se=False):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, kernel_size=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, kernel_size=3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * self.expansion, kernel_size=1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample
        self.stride = stride
        self.use_se = use_se
        if use_se:
            self.se = SEBlock(planes * self.expansion)

    def forward(self, x):
        residual = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        if self.use_se:
            out = self.se(out)
        return self.relu(out + residual)


_BLOCKS = {'BasicBlock': BasicBlock, 'IRBlock': IRBlock, 'Bottleneck': Bottleneck}


@ARCH_REGISTRY.register()
class ResNetArcFace(nn.Module):
    """ArcFace ResNet on gray faces: (B, 1, 128, 128) -> (B, 512) embedding.

    Args:
        block (str | type): 'IRBlock' (the released model), 'BasicBlock' or 'Bottleneck', or the class.
        layers (list[int]): blocks per stage, e.g. [2, 2, 2, 2] for ResNet-18.
        use_se (bool): squeeze-and-excitation in every block. Default True.
    """

    def __init__(self, block, layers, use_se=True):
        super().__init__()
        if isinstance(block, str):
            if block not in _BLOCKS:
                raise ValueError(f"ResNetArcFace block must be one of {sorted(_BLOCKS)}, got '{block}'.")
            block = _BLOCKS[block]
        if len(layers) != 4:
            raise ValueError(f'ResNetArcFace layers must list 4 stage depths, got {list(layers)}.')
        self.inplanes = 64
        self.use_se = use_se
        self.conv1 = nn.Conv2d(1, 64, kernel_size=3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.prelu = nn.PReLU()
        self.maxpool = nn.MaxPool2d(kernel_size=2, stride=2)
        self.layer1 = self._make_layer(block, 64, layers[0])
        self.layer2 = self._make_layer(block, 128, layers[1], stride=2)
        self.layer3 = self._make_layer(block, 256, layers[2], stride=2)
        self.layer4 = self._make_layer(block, 512, layers[3], stride=2)
        self.bn4 = nn.BatchNorm2d(512 * block.expansion)
        self.dropout = nn.Dropout()
        self.fc5 = nn.Linear(512 * block.expansion * 8 * 8, 512)
        self.bn5 = nn.BatchNorm1d(512)

        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.xavier_normal_(m.weight)
            elif isinstance(m, (nn.BatchNorm2d, nn.BatchNorm1d)):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)
            elif isinstance(m, nn.Linear):
                nn.init.xavier_normal_(m.weight)
                nn.init.constant_(m.bias, 0)

    def _make_layer(self, block, planes, num_blocks, stride=1):
        downsample = None
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = nn.Sequential(
                nn.Conv2d(self.inplanes, planes * block.expansion, kernel_size=1, stride=stride, bias=False),
                nn.BatchNorm2d(planes * block.expansion),
            )
        layers = [block(self.inplanes, planes, stride, downsample, use_se=self.use_se)]
        self.inplanes = planes * block.expansion
        for _ in range(1, num_blocks):
            layers.append(block(self.inplanes, planes, use_se=self.use_se))
        return nn.Sequential(*layers)

    def forward(self, x):
        if x.ndim != 4 or x.shape[1] != 1 or tuple(x.shape[2:]) != (128, 128):
            raise ValueError(f'ResNetArcFace expects gray faces of shape (B, 1, 128, 128), got {tuple(x.shape)}.')
        x = self.maxpool(self.prelu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        x = self.dropout(self.bn4(x))
        x = self.fc5(x.view(x.size(0), -1))
        return self.bn5(x)
