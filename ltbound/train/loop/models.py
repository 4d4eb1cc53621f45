"""Networks of the companion trainer: CIFAR ResNet-32 (Sect. 4.2) and a small net for 8x8 digits.

Models take float input that is already normalised, shape (N, C, H, W), in either
contiguous or channels_last memory format, and return logits (N, num_classes).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..._validation import check_positive_int

MODELS = ("resnet32", "digits_net", "resnet50")


def _kaiming_init(module: nn.Module) -> None:
    """He et al. (2015) normal init of conv and linear weights, as in the CIFAR ResNet code."""
    if isinstance(module, (nn.Conv2d, nn.Linear)):
        nn.init.kaiming_normal_(module.weight)


class _ShortcutA(nn.Module):
    """Option A shortcut (He et al. 2016, Sect. 4.2): stride-2 subsampling and zero-padded channels.

    Parameter-free, which is what makes CIFAR ResNet-32 have 0.46 M parameters.
    """

    def __init__(self, extra_channels: int):
        super().__init__()
        self.extra = extra_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        half = self.extra // 2
        return F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, half, self.extra - half))


class _BasicBlock(nn.Module):
    def __init__(self, in_planes: int, planes: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        if stride != 1 or in_planes != planes:
            if stride != 2 or planes < in_planes:
                raise ValueError("option-A shortcuts need stride 2 and more output channels")
            self.shortcut: nn.Module = _ShortcutA(planes - in_planes)
        else:
            self.shortcut = nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class CifarResNet(nn.Module):
    """CIFAR ResNet-(6k+2) of He et al. (2016), Sect. 4.2: 3 stages of k BasicBlocks, widths 16/32/64."""

    def __init__(self, blocks_per_stage: int, num_classes: int, in_channels: int = 3):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, 16, 3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        layers: list[nn.Module] = []
        in_planes = 16
        for stage, planes in enumerate((16, 32, 64)):
            for b in range(blocks_per_stage):
                stride = 2 if stage > 0 and b == 0 else 1
                layers.append(_BasicBlock(in_planes, planes, stride))
                in_planes = planes
        self.layers = nn.Sequential(*layers)
        self.fc = nn.Linear(64, num_classes)
        self.apply(_kaiming_init)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.layers(out)
        out = F.adaptive_avg_pool2d(out, 1).flatten(1)
        return self.fc(out)


class DigitsNet(nn.Module):
    """Small conv net for 1x8x8 digits: conv 16 -> conv 32 -> max-pool 2 -> conv 64 -> global pool -> linear."""

    def __init__(self, num_classes: int, in_channels: int = 1):
        super().__init__()
        def block(cin: int, cout: int) -> nn.Sequential:
            return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout),
                                 nn.ReLU(inplace=True))
        self.features = nn.Sequential(block(in_channels, 16), block(16, 32), nn.MaxPool2d(2), block(32, 64))
        self.fc = nn.Linear(64, num_classes)
        self.apply(_kaiming_init)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.adaptive_avg_pool2d(self.features(x), 1).flatten(1)
        return self.fc(out)


def resnet32(num_classes: int = 10, *, in_channels: int = 3) -> nn.Module:
    """CIFAR ResNet-32 (He et al. 2016; the paper's CIFAR model, Sect. 4.2).

    3 stages x 5 BasicBlocks, widths 16/32/64, option-A shortcuts (zero-padding,
    stride-2 subsampling), Kaiming-normal init; 464,154 parameters for 10 classes.
    """
    c = check_positive_int(num_classes, "num_classes")
    return CifarResNet(5, c, check_positive_int(in_channels, "in_channels"))


def digits_net(num_classes: int = 10, *, in_channels: int = 1) -> nn.Module:
    """A small conv net for 8x8 images (the digits set); BatchNorm, 24,058 parameters for 10 classes."""
    c = check_positive_int(num_classes, "num_classes")
    return DigitsNet(c, check_positive_int(in_channels, "in_channels"))


def _resnet50(num_classes: int, in_channels: int) -> nn.Module:
    """torchvision's ResNet-50 (the paper's ImageNet-LT / iNaturalist model), random init."""
    from torchvision.models import resnet50

    model = resnet50(weights=None, num_classes=num_classes)
    if in_channels != 3:
        model.conv1 = nn.Conv2d(in_channels, 64, 7, stride=2, padding=3, bias=False)
        nn.init.kaiming_normal_(model.conv1.weight, mode="fan_out", nonlinearity="relu")
    return model


def build_model(name: str, num_classes: int, in_channels: int | None = None) -> nn.Module:
    """A model by name: 'resnet32' (default 3 input channels), 'digits_net' (1) or 'resnet50' (3)."""
    if name not in MODELS:
        raise ValueError(f"model must be one of {list(MODELS)}, got {name!r}")
    c = check_positive_int(num_classes, "num_classes")
    if name == "resnet32":
        return resnet32(c, in_channels=3 if in_channels is None else in_channels)
    if name == "digits_net":
        return digits_net(c, in_channels=1 if in_channels is None else in_channels)
    return _resnet50(c, 3 if in_channels is None else check_positive_int(in_channels, "in_channels"))


def count_parameters(model: nn.Module) -> int:
    """Number of scalar parameters (trainable or not; buffers such as BatchNorm statistics excluded)."""
    if not isinstance(model, nn.Module):
        raise ValueError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    return int(sum(p.numel() for p in model.parameters()))
