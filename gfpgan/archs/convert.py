"""Convert GFPGANBilinear / GFPGANv1 weights to the clean architecture (GFPGANv1Clean).

The equalized-learning-rate scales (1/sqrt(fan_in), lr_mul) are folded into the weights, the
sqrt(2) gain of the fused / scaled leaky ReLUs is moved into the adjacent linear layer (leaky ReLU
is positively homogeneous: lrelu(a * x) = a * lrelu(x) for a > 0), and the keys are renamed.

* GFPGANBilinear -> GFPGANv1Clean is exact up to float32 rounding: both resample bilinearly.
* GFPGANv1 -> GFPGANv1Clean is approximate: v1 resamples with a FIR filter ([1, 3, 3, 1]; transposed /
  strided convolutions in the decoder and the encoder) where the clean network interpolates bilinearly,
  so the converted network computes a different (close, not equal) function.
"""
import math
import re
from collections import OrderedDict

__all__ = ['to_clean_state_dict', 'infer_clean_kwargs']

SQRT2 = math.sqrt(2)


def _fan_in_scale(w):
    """Equalized-lr scale of a conv / linear weight: 1 / sqrt(fan_in)."""
    return 1 / math.sqrt(w[0].numel()) if w.ndim != 5 else 1 / math.sqrt(w[0, 0].numel())


def _convert_decoder(key, value, lr_mlp):
    """(new key, new value) for a ``stylegan_decoder.*`` entry."""
    m = re.fullmatch(r'(stylegan_decoder\.style_mlp)\.(\d+)\.(weight|bias)', key)
    if m:  # EqualLinear(fused_lrelu) -> nn.Linear + LeakyReLU at odd indices
        prefix, idx, var = m.groups()
        new_key = f'{prefix}.{int(idx) * 2 - 1}.{var}'
        scale = (_fan_in_scale(value) * lr_mlp if var == 'weight' else lr_mlp) * SQRT2
        return new_key, value * scale
    if '.modulation.' in key:  # EqualLinear(lr_mul=1) -> nn.Linear
        return key, value * _fan_in_scale(value) if key.endswith('weight') else value
    if key.endswith('modulated_conv.weight'):  # (1, out, in, k, k): fold 1 / sqrt(in * k * k)
        return key, value * _fan_in_scale(value)
    m = re.fullmatch(r'(stylegan_decoder\.style_conv1|stylegan_decoder\.style_convs\.\d+)\.(weight|activate\.bias)',
                     key)
    if m:  # the clean StyleConv multiplies the conv output by sqrt(2) before noise and bias
        prefix, var = m.groups()
        if var == 'weight':
            return key, value * SQRT2
        return f'{prefix}.bias', (value * SQRT2).view(1, -1, 1, 1)
    return key, value  # constant input, to_rgb biases, noise buffers


# (source key pattern, clean key template, gain): weight -> W / sqrt(fan_in) * gain, bias -> b * gain.
# gain sqrt(2) moves the output gain of a following fused / scaled leaky ReLU into the layer
# (lrelu(x) * sqrt(2) = lrelu(sqrt(2) * x)); 1 / sqrt(2) is the residual blocks' final scaling on the skip.
_BODY_RULES = [
    (r'conv_body_first\.0\.weight', 'conv_body_first.weight', SQRT2),
    (r'conv_body_first\.1\.bias', 'conv_body_first.bias', SQRT2),
    (r'final_conv\.0\.weight', 'final_conv.weight', SQRT2),
    (r'final_conv\.1\.bias', 'final_conv.bias', SQRT2),
    (r'(conv_body_(?:down|up)\.\d+)\.conv1\.0\.weight', r'\1.conv1.weight', SQRT2),
    (r'(conv_body_(?:down|up)\.\d+)\.conv1\.1\.bias', r'\1.conv1.bias', SQRT2),
    (r'(conv_body_down\.\d+)\.conv2\.1\.weight', r'\1.conv2.weight', 1.0),
    (r'(conv_body_down\.\d+)\.conv2\.2\.bias', r'\1.conv2.bias', 1.0),
    (r'(conv_body_up\.\d+)\.conv2\.weight', r'\1.conv2.weight', 1.0),
    (r'(conv_body_up\.\d+)\.conv2\.activation\.bias', r'\1.conv2.bias', 1.0),
    (r'(conv_body_down\.\d+)\.skip\.1\.weight', r'\1.skip.weight', 1 / SQRT2),
    (r'(conv_body_up\.\d+)\.skip\.weight', r'\1.skip.weight', 1 / SQRT2),
    (r'(toRGB\.\d+)\.(weight|bias)', r'\1.\2', 1.0),
    (r'final_linear\.(weight|bias)', r'final_linear.\1', 1.0),
    (r'(condition_s(?:cale|hift)\.\d+)\.0\.(weight|bias)', r'\1.0.\2', SQRT2),  # + ScaledLeakyReLU's gain
    (r'(condition_s(?:cale|hift)\.\d+)\.2\.(weight|bias)', r'\1.2.\2', 1.0),
]


def _convert_body(key, value):
    for pattern, template, gain in _BODY_RULES:
        m = re.fullmatch(pattern, key)
        if m:
            scale = gain if key.endswith('bias') else _fan_in_scale(value) * gain
            return m.expand(template), value * scale
    raise KeyError(f"Unexpected key '{key}' for a GFPGANv1/GFPGANBilinear checkpoint.")


def to_clean_state_dict(state_dict, lr_mlp=0.01):
    """GFPGANv1 / GFPGANBilinear state_dict -> GFPGANv1Clean state_dict (same configuration).

    Args:
        lr_mlp (float): the source network's style-MLP learning-rate multiplier (0.01 in every release).
    """
    if 'conv_body_first.0.weight' not in state_dict:
        raise KeyError('Not a GFPGANv1/GFPGANBilinear state_dict (no conv_body_first.0.weight); '
                       'clean checkpoints need no conversion.')
    out = OrderedDict()
    for key, value in state_dict.items():
        value = value.float()
        if key.startswith('stylegan_decoder.'):
            new_key, new_value = _convert_decoder(key, value, lr_mlp)
        else:
            new_key, new_value = _convert_body(key, value)
        out[new_key] = new_value.contiguous()
    return out


def infer_clean_kwargs(state_dict):
    """GFPGANv1Clean constructor arguments that fit a clean (or converted) state_dict."""
    n_levels = len([k for k in state_dict if re.fullmatch(r'toRGB\.\d+\.weight', k)])
    out_size = 2**(n_levels + 2)
    num_style_feat = state_dict['stylegan_decoder.style_conv1.modulated_conv.modulation.weight'].shape[1]
    narrow = state_dict['stylegan_decoder.constant_input.weight'].shape[1] / 512
    channel_multiplier = 1
    if out_size >= 64:  # channel_multiplier scales the widths from 64x64 up: to_rgbs.3 reads the 64x64 features
        c64 = state_dict['stylegan_decoder.to_rgbs.3.modulated_conv.weight'].shape[2]
        channel_multiplier = round(c64 / (256 * narrow))
    num_latent = 2 * n_levels + 2
    last = n_levels - 1
    return dict(
        out_size=out_size,
        num_style_feat=num_style_feat,
        channel_multiplier=channel_multiplier,
        decoder_load_path=None,
        fix_decoder=False,
        num_mlp=len([k for k in state_dict if re.fullmatch(r'stylegan_decoder\.style_mlp\.\d+\.weight', k)]),
        input_is_latent=True,
        different_w=state_dict['final_linear.weight'].shape[0] == num_latent * num_style_feat,
        narrow=narrow,
        sft_half=state_dict[f'condition_scale.{last}.2.weight'].shape[0] == state_dict[f'toRGB.{last}.weight'].shape[1])
