"""Convert a GFPGANBilinear (or GFPGANv1) checkpoint to a GFPGANv1Clean checkpoint."""
import argparse
import os
import sys

import torch

from gfpgan.archs.convert import infer_clean_kwargs, to_clean_state_dict
from gfpgan.archs.gfpganv1_clean_arch import GFPGANv1Clean
from gfpgan.errors import add_debug_argument, os_error_at, run_cli
from gfpgan.utils.checkpoint import CheckpointError, atomic_save, load_checkpoint_file

DESCRIPTION = """\
Convert a GFPGANBilinear or GFPGANv1 checkpoint to the clean architecture (GFPGANv1Clean),
the one GFPGANer(arch='clean') and every release from v1.2 on use, by folding the
equalized-learning-rate scales and the sqrt(2) activation gains into the weights (as was done to
make the v1.2 release, GFPGANCleanv1-NoCE-C2.pth).

What is exact:
  --arch bilinear  GFPGANBilinear -> GFPGANv1Clean computes the same function: the converted
                   network's outputs equal the bilinear network's up to float32 rounding
                   (relative difference ~1e-6; the test suite checks <= 1e-5 of the output range).
  --arch v1        GFPGANv1 (the paper's training architecture, GFPGANv1.pth) converts with the same
                   scale folding, but v1 resamples with a [1, 3, 3, 1] FIR filter (transposed conv +
                   blur in the decoder, blur + strided conv in the encoder) where the clean network
                   interpolates bilinearly. The maths does not allow an exact conversion: the result is
                   a close approximation that should be fine-tuned briefly before use; not a release.

Every state_dict in the file ('params_ema' and/or 'params') is converted; the output is checked
to load strictly into a GFPGANv1Clean of the inferred configuration and written atomically.
"""


def main(argv=None):
    parser = argparse.ArgumentParser(description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('input', help='GFPGANBilinear / GFPGANv1 checkpoint (.pth or .safetensors)')
    parser.add_argument('output', help='where to write the GFPGANv1Clean checkpoint (.pth); never the input file')
    parser.add_argument(
        '--arch',
        choices=['bilinear', 'v1'],
        default='bilinear',
        help='architecture of the input (both use the same key names; default: bilinear)')
    parser.add_argument(
        '--lr_mlp',
        type=float,
        default=0.01,
        help='style-MLP learning-rate multiplier of the input network (default: 0.01, as released)')
    parser.add_argument('--force', action='store_true', help='overwrite an existing output file')
    add_debug_argument(parser)
    args = parser.parse_args(argv)

    if os.path.abspath(args.input) == os.path.abspath(args.output):
        parser.error('the output path must differ from the input path (the input is never overwritten).')
    if os.path.exists(args.output) and not args.force:
        parser.error(f"'{args.output}' exists; pass --force to overwrite it.")
    checkpoint = load_checkpoint_file(args.input)  # a missing or damaged file: one sentence from run_cli
    if not isinstance(checkpoint, dict):
        raise CheckpointError(f"'{args.input}' does not hold a state_dict.")
    keys = [k for k in ('params_ema', 'params') if isinstance(checkpoint.get(k), dict)]
    sources = {k: checkpoint[k] for k in keys} if keys else {'params_ema': checkpoint}

    converted = {}
    for key, state_dict in sources.items():
        state_dict = {k[7:] if k.startswith('module.') else k: v for k, v in state_dict.items()}
        try:
            clean = to_clean_state_dict(state_dict, lr_mlp=args.lr_mlp)
        except KeyError as err:
            raise CheckpointError(f"'{args.input}' [{key}]: {err.args[0]}") from None
        kwargs = infer_clean_kwargs(clean)
        with torch.device('meta'):
            template = GFPGANv1Clean(**kwargs)
        try:
            template.load_state_dict(clean, strict=True, assign=True)
        except RuntimeError as err:
            raise CheckpointError(f"The converted '{key}' weights do not fit GFPGANv1Clean({kwargs}): {err}") from None
        converted[key] = {k: clean[k] for k in template.state_dict()}  # the clean network's key order

    try:
        atomic_save(converted, args.output)
    except OSError as err:  # a full disk, a folder that cannot be written: name the output
        raise os_error_at(err, args.output) from err
    shown = ', '.join(f'{k}={v}' for k, v in kwargs.items()
                      if k not in ('decoder_load_path', 'fix_decoder', 'input_is_latent'))
    print(f"Wrote {args.output} ({', '.join(converted)}) for GFPGANv1Clean({shown}); input_is_latent is not stored "
          "in weights: use the source network's value (True for every release).")
    if args.arch == 'v1':
        print('Note: GFPGANv1 -> clean is approximate (FIR vs bilinear resampling); fine-tune before use.')
    return 0


if __name__ == '__main__':
    sys.exit(run_cli(main))
