"""scripts/export_onnx.py: a small random GFPGANv1Clean exported to ONNX matches PyTorch at several batch sizes."""
import os

import pytest
import torch

from gfpgan.archs.gfpganv1_clean_arch import GFPGANv1Clean
from gfpgan.archs.onnx_export import max_difference, modulated_conv2d_input_scaled
from gfpgan.utils.checkpoint import save_network
from scriptload import load_script

onnxruntime = pytest.importorskip('onnxruntime', reason='onnxruntime is not installed (pip install onnxruntime)')
pytest.importorskip('onnx', reason='onnx is not installed (pip install onnx)')

SIZE = 32
ARCH_FLAGS = [
    '--size',
    str(SIZE), '--channel-multiplier', '1', '--num-style-feat', '32', '--num-mlp', '2', '--narrow', '0.25'
]


@pytest.fixture(scope='module')
def script():
    return load_script('export_onnx')


@pytest.fixture(scope='module')
def small_net():
    torch.manual_seed(0)
    net = GFPGANv1Clean(
        out_size=SIZE,
        num_style_feat=32,
        channel_multiplier=1,
        narrow=0.25,
        num_mlp=2,
        input_is_latent=True,
        different_w=True,
        sft_half=True,
        fix_decoder=False,
        decoder_load_path=None).eval()
    # non-zero noise strengths, so that the stored noise maps matter
    for name, param in net.named_parameters():
        if name.endswith('.weight') and param.numel() == 1:
            param.data.fill_(0.1)
    return net


@pytest.fixture(scope='module')
def exported(script, small_net, tmp_path_factory):
    folder = tmp_path_factory.mktemp('onnx')
    model = str(folder / 'small.pth')
    save_network(small_net, model, param_key='params_ema')
    output = str(folder / 'small.onnx')
    assert script.main(['--model', model, '--output', output] + ARCH_FLAGS) == 0
    return model, output


def test_export_matches_pytorch_with_a_dynamic_batch(script, small_net, exported, capsys):
    _, output = exported
    assert os.path.isfile(output)
    assert [f for f in os.listdir(os.path.dirname(output)) if f.endswith('.part')] == []
    for batch in (1, 3):
        # measured: 1.2e-6 at batch 1 and 3 (float32 rounding; outputs of magnitude ~1)
        assert max_difference(small_net, output, SIZE, batch=batch, seed=batch) < 1e-4
    session = onnxruntime.InferenceSession(output, providers=['CPUExecutionProvider'])
    assert session.get_inputs()[0].shape[0] == 'batch'
    assert session.get_inputs()[0].shape[1:] == [3, SIZE, SIZE]


def test_check_prints_the_difference(script, exported, capsys):
    model, output = exported
    assert script.main(['--model', model, '--output', output, '--force'] + ARCH_FLAGS) == 0
    line = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith('max |onnxruntime - pytorch|')]
    assert len(line) == 1 and float(line[0].split(':')[-1]) < 1e-4


def test_input_scaled_modulated_conv_equals_the_grouped_one(script):
    from gfpgan.archs.stylegan2_base import modulated_conv2d
    gen = torch.Generator().manual_seed(0)
    x, weight, style = torch.randn(
        3, 5, 6, 6, generator=gen), torch.randn(
            1, 4, 5, 3, 3, generator=gen), torch.rand(
                3, 5, generator=gen)
    for demodulate in (True, False):
        ref = modulated_conv2d(x, weight, style, demodulate, 1e-8, 1)
        torch.testing.assert_close(modulated_conv2d_input_scaled(x, weight, style, demodulate, 1e-8, 1), ref)


def run_error(script, argv, capsys):
    """The last stderr line of a refused run (exit code 2: argparse's refusal or run_cli's `error:` line)."""
    from gfpgan.errors import run_cli
    try:
        code = run_cli(script.main, argv)
    except SystemExit as err:
        code = err.code
    assert code == 2
    err = capsys.readouterr().err
    assert 'Traceback' not in err
    return err.strip().splitlines()[-1]


def test_bad_inputs_exit_2_with_one_sentence(script, exported, tmp_path, capsys):
    model, output = exported
    assert 'exists; pass --force' in run_error(script, ['--model', model, '--output', output] + ARCH_FLAGS, capsys)
    new = str(tmp_path / 'new.onnx')
    assert 'power of two' in run_error(script, ['--model', model, '--output', new, '--size', '48'], capsys)
    # the release configuration does not fit the small checkpoint
    assert 'does not fit GFPGANv1Clean' in run_error(script, ['--model', model, '--output', new], capsys)
    missing = str(tmp_path / 'missing.pth')
    assert 'missing.pth' in run_error(script, ['--model', missing, '--output', new] + ARCH_FLAGS, capsys)
    assert 'does not exist' in run_error(
        script, ['--model', model, '--output', str(tmp_path / 'no' / 'x.onnx')], capsys)
    assert not os.path.exists(new)


def test_default_model_missing_offline_names_the_release_file(script, isolated_weights, capsys):
    message = run_error(script, ['--output', str(isolated_weights / 'out.onnx')], capsys)
    assert 'GFPGANv1.4.pth' in message
