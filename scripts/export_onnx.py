"""Export a GFPGANv1Clean generator (e.g. GFPGANv1.4.pth) to ONNX, with a dynamic batch axis."""
import argparse
import os
import sys
import tempfile


from gfpgan.archs.gfpganv1_clean_arch import GFPGANv1Clean
from gfpgan.archs.onnx_export import export, max_difference
from gfpgan.archs.presets import release_network_options
from gfpgan.errors import add_debug_argument, os_error_at, run_cli
from gfpgan.utils.checkpoint import load_network
from gfpgan.utils.weights import resolve_weights

DESCRIPTION = """\
Export a GFPGANv1Clean generator to ONNX: input 'input' (B, 3, size, size) RGB in [-1, 1], output
'output' (B, 3, size, size) in [-1, 1], B dynamic. The StyleGAN2 noise maps are the fixed ones stored
in the checkpoint (randomize_noise=False), so the exported model is deterministic.

The network is the released v1.2-v1.4 configuration (size 512, channel multiplier 2, 512 style
features, 8 MLP layers); the flags below change it for other checkpoints. The per-sample modulated
convolution is exported in its input-scaling form (scale the input by the style, convolve with the
shared weight, demodulate the output), which computes the same function without a batch-sized
grouped convolution, so one graph serves every batch size. With --check (the default) onnxruntime
runs the file on a random batch of 2 and the largest difference from PyTorch is printed.
The TorchScript-based exporter (torch.onnx.export(..., dynamo=False)) is used; it needs the onnx package.
"""

DEFAULT_MODEL = 'GFPGANv1.4.pth'


def build_network(args):
    options = release_network_options('clean', channel_multiplier=args.channel_multiplier)
    options.pop('type')
    options.update(out_size=args.size, num_style_feat=args.num_style_feat, num_mlp=args.num_mlp, narrow=args.narrow)
    return GFPGANv1Clean(**options)


def main(argv=None):
    parser = argparse.ArgumentParser(description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        '--model',
        default=DEFAULT_MODEL,
        help=f"GFPGANv1Clean checkpoint ('params_ema' is used); default {DEFAULT_MODEL}, looked up in "
        'experiments/pretrained_models/ and the caches, else downloaded')
    parser.add_argument('--output', required=True, help='ONNX file to write')
    parser.add_argument('--force', action='store_true', help='overwrite an existing output file')
    parser.add_argument('--size', type=int, default=512, help='out_size: input/output resolution (default 512)')
    parser.add_argument('--channel-multiplier', type=float, default=2, help='channel multiplier (default 2)')
    parser.add_argument('--num-style-feat', type=int, default=512, help='style code width (default 512)')
    parser.add_argument('--num-mlp', type=int, default=8, help='style MLP layers (default 8)')
    parser.add_argument('--narrow', type=float, default=1, help='channel narrowing ratio (default 1)')
    parser.add_argument('--opset', type=int, default=17, help='ONNX opset version (default 17)')
    parser.add_argument(
        '--check',
        action=argparse.BooleanOptionalAction,
        default=True,
        help='compare onnxruntime with PyTorch on a random batch of 2 (default: on)')
    add_debug_argument(parser)
    args = parser.parse_args(argv)

    if args.size < 8 or args.size & (args.size - 1):
        parser.error(f'--size must be a power of two >= 8, got {args.size}.')
    if os.path.exists(args.output) and not args.force:
        parser.error(f"'{args.output}' exists; pass --force to overwrite it.")
    out_dir = os.path.dirname(os.path.abspath(args.output))
    if not os.path.isdir(out_dir):
        parser.error(f"the output folder '{out_dir}' does not exist.")
    try:
        import onnx  # noqa: F401
    except ImportError:
        parser.error("exporting needs the 'onnx' package (pip install onnx, or the gfpgan[export] extra).")
    if args.check:
        try:
            import onnxruntime  # noqa: F401
        except ImportError:
            parser.error('--check needs onnxruntime (pip install onnxruntime), or pass --no-check.')
    try:
        net = build_network(args)
    except (ValueError, KeyError, TypeError) as err:
        parser.error(f'cannot build GFPGANv1Clean with these options: {err}')
    load_network(net, resolve_weights(args.model), param_key='params_ema')  # missing / damaged: run_cli's sentence
    net.eval()

    fd, tmp = tempfile.mkstemp(prefix=f'.{os.path.basename(args.output)}.', suffix='.part', dir=out_dir)
    os.close(fd)
    try:
        export(net, tmp, args.size, args.opset)
        if args.check:
            print(f'max |onnxruntime - pytorch| on a random batch of 2: {max_difference(net, tmp, args.size):.3g}')
        os.replace(tmp, args.output)
    except OSError as err:  # a full disk: name the output, not the hidden temporary file
        raise os_error_at(OSError(err.errno, err.strerror or str(err)), args.output) from err
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    print(f'Wrote {args.output} (opset {args.opset}, input (batch, 3, {args.size}, {args.size})).')
    return 0


if __name__ == '__main__':
    sys.exit(run_cli(main))
