"""Networks: ResNet-32 size and shortcuts, the digits net, channels_last, build_model."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from ltbound.train.loop.models import MODELS, build_model, count_parameters, digits_net, resnet32


def test_resnet32_has_464154_parameters():
    """He et al. (2016) CIFAR ResNet-32 with option-A shortcuts: 0.46 M parameters for 10 classes."""
    assert count_parameters(resnet32(10)) == 464_154
    # the classifier is the only part that depends on C: 64 * C + C
    assert count_parameters(resnet32(100)) == 464_154 + 90 * 65


def test_resnet32_depth_and_parameter_free_shortcuts():
    m = resnet32()
    convs = [mod for mod in m.modules() if isinstance(mod, nn.Conv2d)]
    linears = [mod for mod in m.modules() if isinstance(mod, nn.Linear)]
    assert len(convs) + len(linears) == 32  # 1 + 3 stages x 5 blocks x 2 convs + 1 linear
    assert all(mod.kernel_size == (3, 3) for mod in convs)


@pytest.mark.parametrize("factory, shape", [(resnet32, (5, 3, 32, 32)), (digits_net, (5, 1, 8, 8))])
def test_forward_shape_and_channels_last_agree(factory, shape):
    torch.manual_seed(0)
    model = factory(7).eval()
    x = torch.randn(*shape)
    with torch.no_grad():
        ref = model(x)
        model_cl = model.to(memory_format=torch.channels_last)
        out = model_cl(x.contiguous(memory_format=torch.channels_last))
    assert ref.shape == out.shape == (5, 7)
    assert torch.allclose(out, ref, rtol=1e-4, atol=1e-4 * float(ref.abs().max()))


def test_backward_in_channels_last_training_mode():
    torch.manual_seed(0)
    model = resnet32(10).to(memory_format=torch.channels_last).train()
    x = torch.randn(4, 3, 32, 32).contiguous(memory_format=torch.channels_last)
    loss = nn.functional.cross_entropy(model(x), torch.tensor([0, 1, 2, 3]))
    loss.backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())


def test_init_is_seeded_by_torch_and_kaiming_scaled():
    torch.manual_seed(1)
    a = resnet32()
    torch.manual_seed(1)
    b = resnet32()
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    w = a.conv1.weight.detach()  # fan_in 27, kaiming normal: std sqrt(2 / 27)
    assert float(w.std()) == pytest.approx((2 / 27) ** 0.5, rel=0.35)


def test_build_model_names_and_channels():
    assert count_parameters(build_model("resnet32", 10)) == 464_154
    assert count_parameters(build_model("digits_net", 10)) == count_parameters(digits_net(10))
    gray = build_model("resnet32", 10, in_channels=1)
    assert gray(torch.randn(2, 1, 32, 32)).shape == (2, 10)
    rgb_digits = build_model("digits_net", 4, in_channels=3)
    assert rgb_digits(torch.randn(2, 3, 8, 8)).shape == (2, 4)
    assert "resnet50" in MODELS


def test_resnet50_builds_for_large_scale_presets():
    m = build_model("resnet50", 1000)
    assert count_parameters(m) == 25_557_032  # torchvision ResNet-50


@pytest.mark.parametrize("call, match", [
    (lambda: build_model("resnet18", 10), r"model must be one of \['resnet32', 'digits_net', 'resnet50'\]"),
    (lambda: build_model("resnet32", 0), "num_classes must be an integer >= 1"),
    (lambda: build_model("digits_net", 10, in_channels=0), "in_channels"),
    (lambda: resnet32(2.5), "num_classes"),
    (lambda: count_parameters("resnet32"), "torch.nn.Module"),
])
def test_bad_arguments_are_refused(call, match):
    with pytest.raises(ValueError, match=match):
        call()
