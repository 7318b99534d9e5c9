"""scripts/convert_gfpganv1_to_clean.py: GFPGANBilinear -> GFPGANv1Clean is exact up to float32 rounding."""
import os

import pytest
import torch

from gfpgan.archs import GFPGANBilinear, GFPGANv1, GFPGANv1Clean
from gfpgan.archs.convert import infer_clean_kwargs, to_clean_state_dict
from scriptload import load_script

from gfpgan.errors import run_cli

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RTOL = 1e-5  # max|clean - bilinear| <= RTOL * max|bilinear|; observed ~2e-6 (float32 rounding)


def _random_net(cls, **kw):
    torch.manual_seed(0)
    net = cls(**kw).eval()
    with torch.no_grad():  # move every parameter off its initial value (noise strengths start at 0 ...)
        for p in net.parameters():
            p.add_(torch.randn_like(p) * 0.2)
    return net


CONFIGS = [
    dict(
        out_size=64,
        num_style_feat=32,
        channel_multiplier=2,
        narrow=0.125,
        sft_half=True,
        different_w=True,
        input_is_latent=True),
    dict(
        out_size=32,
        num_style_feat=16,
        channel_multiplier=1,
        narrow=0.0625,
        sft_half=False,
        different_w=False,
        input_is_latent=False),
]


@pytest.mark.parametrize('kw', CONFIGS)
def test_bilinear_converts_exactly(tmp_path, kw):
    src = _random_net(GFPGANBilinear, **kw)
    ema = {k: v * 1.01 for k, v in src.state_dict().items()}
    torch.save({'params': src.state_dict(), 'params_ema': ema}, tmp_path / 'bilinear.pth')
    assert load_script('convert_gfpganv1_to_clean').main([str(tmp_path / 'bilinear.pth'),
                                                          str(tmp_path / 'clean.pth')]) == 0

    converted = torch.load(tmp_path / 'clean.pth', weights_only=True)
    assert set(converted) == {'params', 'params_ema'}
    clean_kwargs = dict(infer_clean_kwargs(converted['params']), input_is_latent=kw['input_is_latent'])
    assert {k: clean_kwargs[k] for k in kw} == kw
    clean = GFPGANv1Clean(**clean_kwargs).eval()
    clean.load_state_dict(converted['params'], strict=True)
    assert list(converted['params']) == list(clean.state_dict())

    x = torch.rand(2, 3, kw['out_size'], kw['out_size']) * 2 - 1
    with torch.no_grad():
        want, want_rgbs = src(x, randomize_noise=False)
        got, got_rgbs = clean(x, randomize_noise=False)
    for a, b in zip([got] + got_rgbs, [want] + want_rgbs):
        assert (a - b).abs().max() <= RTOL * b.abs().max()


def test_v1_conversion_is_approximate_but_loads(tmp_path):
    kw = CONFIGS[0]
    src = _random_net(GFPGANv1, **kw)
    clean_sd = to_clean_state_dict(src.state_dict())
    clean = GFPGANv1Clean(**infer_clean_kwargs(clean_sd)).eval()
    clean.load_state_dict(clean_sd, strict=True)
    x = torch.rand(1, 3, 64, 64) * 2 - 1
    with torch.no_grad():
        assert torch.isfinite(clean(x, randomize_noise=False)[0]).all()
    assert load_script('convert_gfpganv1_to_clean').main(
        [str(_save(tmp_path, src)), str(tmp_path / 'clean_v1.pth'), '--arch', 'v1']) == 0


def _save(tmp_path, net):
    path = tmp_path / 'src.pth'
    torch.save({'params_ema': net.state_dict()}, path)
    return path


def test_refuses_to_overwrite_and_rejects_clean_input(tmp_path, capsys):
    src = _random_net(GFPGANBilinear, **CONFIGS[1])
    path = _save(tmp_path, src)
    script = load_script('convert_gfpganv1_to_clean')
    with pytest.raises(SystemExit):
        script.main([str(path), str(path)])
    assert 'must differ from the input' in capsys.readouterr().err
    (tmp_path / 'exists.pth').write_bytes(b'keep me')
    with pytest.raises(SystemExit):
        script.main([str(path), str(tmp_path / 'exists.pth')])
    assert '--force' in capsys.readouterr().err
    assert (tmp_path / 'exists.pth').read_bytes() == b'keep me'
    clean = tmp_path / 'clean_in.pth'
    torch.save({'params_ema': GFPGANv1Clean(**dict(CONFIGS[1])).state_dict()}, clean)
    assert run_cli(script.main, [str(clean), str(tmp_path / 'out.pth')]) == 2
    err = capsys.readouterr().err
    assert err.startswith('error: ') and 'need no conversion' in err and 'Traceback' not in err
    assert not (tmp_path / 'out.pth').exists()


def test_a_damaged_input_and_an_unwritable_output_are_one_sentence(tmp_path, capsys):
    script = load_script('convert_gfpganv1_to_clean')
    (tmp_path / 'junk.pth').write_bytes(b'not a checkpoint')
    assert run_cli(script.main, [str(tmp_path / 'junk.pth'), str(tmp_path / 'out.pth')]) == 2
    err = capsys.readouterr().err
    assert err.startswith('error: ') and 'junk.pth' in err and len(err.strip().splitlines()) == 1
    path = _save(tmp_path, _random_net(GFPGANBilinear, **CONFIGS[1]))
    (tmp_path / 'a_file').write_text('x')
    target = tmp_path / 'a_file' / 'out.pth'
    assert run_cli(script.main, [str(path), str(target)]) == 2
    err = capsys.readouterr().err
    assert err.startswith('error: ') and 'a_file' in err and 'Traceback' not in err
    assert run_cli(script.main, [str(path), str(target), '--debug']) == 2
    assert 'Traceback' in capsys.readouterr().err
