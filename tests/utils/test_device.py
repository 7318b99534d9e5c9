"""gfpgan.utils.device: the layout policy, channels-last conversion of networks with 5-D weights, TF32."""
import torch

from gfpgan.archs import build_network
from gfpgan.utils.device import backend_flags, conv_memory_format, resolve_device, set_tf32, to_memory_format


def test_layout_is_channels_last_on_the_cpu_and_for_reduced_precision_on_cuda():
    assert conv_memory_format('cpu') is torch.channels_last
    assert conv_memory_format('cuda') is torch.contiguous_format
    assert conv_memory_format('cuda', torch.float16) is torch.channels_last
    assert conv_memory_format('cuda', torch.bfloat16) is torch.channels_last
    assert resolve_device('cpu') == torch.device('cpu')


def test_to_memory_format_converts_conv_weights_and_leaves_modulated_weights():
    torch.manual_seed(0)
    net = build_network(
        dict(
            type='GFPGANv1Clean',
            out_size=32,
            num_style_feat=16,
            channel_multiplier=1,
            decoder_load_path=None,
            fix_decoder=False,
            num_mlp=1,
            input_is_latent=True,
            different_w=True,
            narrow=0.125,
            sft_half=True))
    before = {k: v.clone() for k, v in net.state_dict().items()}
    assert to_memory_format(net) is net
    for name, tensor in net.state_dict().items():
        assert torch.equal(tensor, before[name]), name  # same values
        if tensor.ndim == 4 and min(tensor.shape[1:]) > 1:
            assert tensor.is_contiguous(memory_format=torch.channels_last), name
        if tensor.ndim == 5:
            assert tensor.is_contiguous(), name
    to_memory_format(net, torch.contiguous_format)
    assert all(t.is_contiguous() for t in net.state_dict().values())


def test_tf32_switches_and_backend_flags_restore_them():
    flags = lambda: (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32,  # noqa: E731
                     torch.backends.cudnn.benchmark)
    before = flags()
    with backend_flags(tf32=True, cudnn_benchmark=not before[2]):
        assert flags() == (True, True, not before[2])
        set_tf32(False)
        assert flags()[:2] == (False, False)
    assert flags() == before
    with backend_flags():  # nothing asked: nothing changes
        assert flags() == before
