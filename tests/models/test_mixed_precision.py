"""Mixed precision and the speed options of GFPGANModel on the CPU: bf16 training close to float32 and resuming
exactly, fp16 gradient scaling (overflow skips counted, scales saved and restored), channels-last, fused Adam,
TF32 and torch.compile with its fallback."""
import functools
import logging
import math

import pytest
import torch

from test_gfpgan_model import batch, tiny_options

from gfpgan.models.base_model import set_rng_state
from gfpgan.models.gfpgan_model import GFPGANModel, NonFiniteLossError
from gfpgan.models.precision import MixedPrecision
from gfpgan.train import use_resumed_networks
from gfpgan.utils.checkpoint import load_checkpoint_file
from gfpgan.utils.device import backend_flags


def train(opt, iterations, model=None):
    """Run ``iterations`` (iteration numbers) on the reference batches; returns the model and each iteration's log."""
    if model is None:
        torch.manual_seed(0)
        model = GFPGANModel(opt)
    logs = []
    for it in iterations:
        model.feed_data(batch(it))
        model.optimize_parameters(current_iter=it)
        logs.append(dict(model.get_current_log()))
    return model, logs


def without_pretrained_losses(opt):
    """The reference options without the VGG and ArcFace losses (float16 convolutions are slow on a CPU)."""
    opt['train'].pop('perceptual_opt')
    opt.pop('network_identity')
    opt['train']['comp_style_weight'] = 0
    return opt


def resumed_model(opt, iteration):
    """A new model continuing from the checkpoint and training state that ``iteration`` saved, as train.py does."""
    opt['path']['ignore_resume_networks'] = ['network_identity']
    state = load_checkpoint_file(f"{opt['path']['training_states']}/{iteration}.state")
    use_resumed_networks(opt, iteration)
    torch.manual_seed(0)  # the frozen VGG and ArcFace are random here: they must start as in the first run
    model = GFPGANModel(opt)
    model.resume_training(state)
    set_rng_state(state['rng'])
    return model


def test_bf16_training_stays_finite_and_close_to_float32(tmp_path):
    _, reference = train(tiny_options(tmp_path), [1, 2, 16])
    model, logs = train(tiny_options(tmp_path, mixed_precision='bf16'), [1, 2, 16])  # 16: a lazy-R1 iteration
    assert model.precision.dtype is torch.bfloat16 and not any(s.is_enabled() for s in model.grad_scalers)
    assert 'l_d_r1' in logs[-1]
    for log, ref in zip(logs, reference):
        assert log.keys() == ref.keys() and all(math.isfinite(v) for v in log.values())
    # every loss of the first two iterations within 5% of max(|float32 loss|, 1): bf16 keeps 8 bits of mantissa
    for log, ref in zip(logs[:2], reference[:2]):
        for key, value in ref.items():
            assert abs(log[key] - value) <= 0.05 * max(abs(value), 1), (key, log[key], value)
    assert logs[0] != reference[0]  # the networks did run in bfloat16
    assert all(p.dtype == torch.float32 for p in model.net_g.parameters())  # float32 master weights
    assert all(p.dtype == torch.float32 for p in model.net_g_ema.parameters())


def test_bf16_resume_continues_exactly(tmp_path):
    straight_dir, resumed_dir = tmp_path / 'straight', tmp_path / 'resumed'
    straight, _ = train(tiny_options(straight_dir, mixed_precision='bf16'), [15, 16, 17])
    opt = tiny_options(resumed_dir, mixed_precision='bf16')
    first, _ = train(opt, [15])
    first.save(epoch=0, current_iter=15)
    resumed, _ = train(opt, [16, 17], model=resumed_model(opt, 15))
    for name in ('net_g', 'net_g_ema', 'net_d'):
        a, b = getattr(straight, name).state_dict(), getattr(resumed, name).state_dict()
        assert all(torch.equal(a[k], b[k]) for k in a), name


def test_fp16_scales_gradients_counts_overflows_and_resumes_its_scales(tmp_path):
    opt = without_pretrained_losses(tiny_options(tmp_path, mixed_precision='fp16'))
    model, logs = train(opt, [1, 2])
    assert all(s.is_enabled() for s in model.grad_scalers) and len(model.grad_scalers) == len(model.optimizers)
    assert all(math.isfinite(v) for log in logs for v in log.values())
    # the default initial scale (2**16) overflows the discriminators' float16 gradients at first: the scaler skips
    # those steps, halves its scale, and the model counts them without calling them non-finite losses
    scales = [s.get_scale() for s in model.grad_scalers]
    assert min(scales) < 2.**16 and logs[-1]['fp16_overflow_steps'] >= 1 and 'skipped_steps' not in logs[-1]
    model.save(epoch=0, current_iter=2)
    state = load_checkpoint_file(tmp_path / 'training_states' / '2.state')
    assert [s['scale'] for s in state['grad_scalers']] == scales
    resumed = resumed_model(opt, 2)
    assert [s.get_scale() for s in resumed.grad_scalers] == scales


def test_fp16_overflow_every_step_stops_the_run(tmp_path):
    opt = without_pretrained_losses(tiny_options(tmp_path, mixed_precision='fp16', max_nonfinite_steps=1))
    torch.manual_seed(0)
    model = GFPGANModel(opt)
    model.grad_scalers = [torch.amp.GradScaler('cpu', init_scale=2.**120) for _ in model.optimizers]  # always inf
    with pytest.raises(NonFiniteLossError, match='float16 gradient overflow'):
        train(opt, [1, 2, 3], model=model)


def test_channels_last_and_fused_adam_compute_the_same_step(tmp_path):
    _, reference = train(tiny_options(tmp_path), [1, 2])
    model, logs = train(tiny_options(tmp_path, channels_last=True, fused_optimizer=True), [1, 2])
    assert model.lq.is_contiguous(memory_format=torch.channels_last)
    assert model.net_d.final_conv[0].weight.is_contiguous(memory_format=torch.channels_last)
    assert model.optimizer_g.defaults['fused'] and model.optimizer_d.defaults['fused']
    for log, ref in zip(logs, reference):
        for key, value in ref.items():
            assert log[key] == pytest.approx(value, rel=1e-4, abs=1e-5), key


def test_tf32_follows_the_option(tmp_path):
    with backend_flags():  # restores the switches afterwards
        GFPGANModel(without_pretrained_losses(tiny_options(tmp_path, tf32=True)))
        assert torch.backends.cuda.matmul.allow_tf32 and torch.backends.cudnn.allow_tf32
        GFPGANModel(without_pretrained_losses(tiny_options(tmp_path)))  # default: true float32
        assert not torch.backends.cuda.matmul.allow_tf32 and not torch.backends.cudnn.allow_tf32


def test_compiled_steps_compute_the_eager_losses(tmp_path, monkeypatch):
    # dynamo captures the graphs; the 'eager' backend runs them without inductor's minutes of C++ compilation
    monkeypatch.setattr(torch, 'compile', functools.partial(torch.compile, backend='eager'))
    opt = without_pretrained_losses(tiny_options(tmp_path))
    _, reference = train(opt, [1, 16])
    model, logs = train(without_pretrained_losses(tiny_options(tmp_path, compile=True)), [1, 16])
    assert model.net_g_forward.active and model.net_d_forward.active
    for log, ref in zip(logs, reference):
        for key, value in ref.items():
            assert log[key] == pytest.approx(value, rel=1e-5, abs=1e-6), key


def test_a_failing_compiler_falls_back_to_eager_with_one_log_line(tmp_path, monkeypatch, caplog):

    def broken_backend(graph, example_inputs):
        raise RuntimeError('no compiler here')

    monkeypatch.setattr(torch, 'compile', functools.partial(torch.compile, backend=broken_backend))
    opt = without_pretrained_losses(tiny_options(tmp_path))
    _, reference = train(opt, [1])
    with caplog.at_level(logging.WARNING, logger='gfpgan'):
        model, logs = train(without_pretrained_losses(tiny_options(tmp_path, compile=True)), [1])
    assert not model.net_g_forward.active and not model.net_d_forward.active
    lines = [r.getMessage() for r in caplog.records if 'torch.compile' in r.getMessage()]
    assert len(lines) == 2 and 'torch.compile of net_g is unavailable' in lines[0] and 'eagerly' in lines[0]
    assert all('\n' not in line for line in lines)
    for key, value in reference[0].items():
        assert logs[0][key] == pytest.approx(value, rel=1e-6, abs=1e-7), key


def test_unknown_mixed_precision_is_refused():
    with pytest.raises(ValueError, match="train.mixed_precision must be one of none, bf16, fp16, got 'fp8'"):
        MixedPrecision('fp8')
