"""The single-frame fast path of mewb's Conv3d: exact against the padded 3D convolution, both ways."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from mewb.models.layers.conv import Conv3d

CASES = [  # (in, out, kernel, stride, padding, dilation, groups)
    (16, 32, 3, 1, 1, 1, 8),  # the grouped 3x3x3 block convolution
    (16, 32, 3, 2, 1, 1, 4),  # a stage's first block (stride 2)
    (16, 16, 3, 1, (1, 2, 2), (1, 2, 2), 2),  # MSCAF's spatially dilated branch
    (3, 8, (3, 7, 7), (1, 2, 2), (1, 3, 3), 1, 1),  # the stem
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"k{c[2]}-s{c[3]}-p{c[4]}-g{c[6]}")
def test_single_frame_path_equals_the_padded_convolution_forward_and_backward(case):
    c_in, c_out, kernel, stride, padding, dilation, groups = case
    torch.manual_seed(0)
    fast = Conv3d(c_in, c_out, kernel, stride=stride, padding=padding, dilation=dilation, groups=groups, bias=True)
    reference = nn.Conv3d(c_in, c_out, kernel, stride=stride, padding=padding, dilation=dilation, groups=groups, bias=True)
    reference.load_state_dict(fast.state_dict())
    assert fast.single_frame_tap(1) == 1 and fast.single_frame_tap(2) is None
    x = torch.randn(2, c_in, 1, 12, 12, requires_grad=True)
    x_ref = x.detach().clone().requires_grad_(True)
    out, out_ref = fast(x), reference(x_ref)
    assert out.shape == out_ref.shape
    torch.testing.assert_close(out, out_ref, atol=1e-5, rtol=1e-5)
    grad = torch.randn_like(out)
    out.backward(grad)
    out_ref.backward(grad)
    torch.testing.assert_close(x.grad, x_ref.grad, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(fast.weight.grad, reference.weight.grad, atol=1e-5, rtol=1e-5)
    assert fast.weight.grad[:, :, [0, 2]].abs().max() == 0  # the padding taps learn nothing, in both
    torch.testing.assert_close(fast.bias.grad, reference.bias.grad, atol=1e-5, rtol=1e-5)


def test_other_inputs_take_the_ordinary_path():
    conv = Conv3d(4, 4, 3, padding=1)
    assert conv.single_frame_tap(3) is None
    assert Conv3d(4, 4, 3, padding=0).single_frame_tap(1) is None  # no padding: T = 1 cannot pass
    assert Conv3d(4, 4, (1, 3, 3), padding=(0, 1, 1)).single_frame_tap(1) is None  # nothing to skip
    x = torch.randn(1, 4, 3, 8, 8)
    torch.testing.assert_close(conv(x), nn.Conv3d.forward(conv, x))


def test_the_padded_path_can_be_asked_for_and_gives_the_same_numbers(monkeypatch):
    from mewb.models.layers.conv import padded_single_frames

    torch.manual_seed(0)
    conv = Conv3d(8, 8, 3, padding=1, groups=2)
    x = torch.randn(2, 8, 1, 6, 6)
    calls = []
    padded_forward = nn.Conv3d._conv_forward
    monkeypatch.setattr(nn.Conv3d, "_conv_forward", lambda self, *a: calls.append(1) or padded_forward(self, *a))
    fast = conv(x)
    assert not calls  # the fast path does not go through nn.Conv3d
    with padded_single_frames():
        padded = conv(x)
    assert len(calls) == 1  # ... the padded one does
    conv(x)
    assert len(calls) == 1  # and the fast path is back after the block
    torch.testing.assert_close(fast, padded, rtol=1e-5, atol=1e-6)
