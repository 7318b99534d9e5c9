"""The command line of the eye/mouth box extraction (scripts/extract_components.py): options, help, their checks and
the lines printed; the boxes themselves are ``gfpgan.data.component_extraction``."""
import argparse
import os

from gfpgan.errors import add_debug_argument

from .component_extraction import (ALIGNMENT_SAMPLE, ALIGNMENT_TOLERANCE, DETECTOR_FILE, ComponentExtractionError,
                                   boxes_from_ffhq_json, boxes_from_folder, check_alignment, detector_available,
                                   draw_images, list_image_files, load_detector, read_json_object)
from .components import RELEASE_URL, save_component_boxes
from .storage import IMAGE_EXTENSIONS

__all__ = ['DESCRIPTION', 'build_parser', 'check_arguments', 'run', 'main']

DESCRIPTION = f"""\
Write the eye / mouth boxes that GFPGAN's facial-component discriminators crop (option `component_path`),
in the layout of the release file FFHQ_eye_mouth_landmarks_512.pth
  {RELEASE_URL}
{{'00000000': {{'left_eye': [x, y, half_len], 'right_eye': [...], 'mouth': [...]}}, ...}}: pixels of a 512x512
image whatever the training size, keyed by each image's dataset index.

Modes:
  --ffhq-json ffhq-dataset-v2.json
        FFHQ: boxes from each entry's image.face_landmarks (68 points of the 1024x1024 image), key = the
        entry's number: exactly the numbers of the release file (the official scripts/parse_landmark.py).
  --images FOLDER
        A custom dataset of aligned square faces. Keys follow the folder's image files
        ({' '.join(IMAGE_EXTENSIONS)}) sorted by name, as the training datasets index them:
        the n-th file is '{{n:08d}}'. Landmarks come from one of:
          --landmarks FILE   JSON {{"file name": [[x, y], ...]}} with 5 points (left eye, right eye, nose tip,
                             left and right mouth corner; left/right as in the image) or 68 points (iBUG / dlib
                             order), in that image's pixels, from any detector. Images missing from it get the
                             template boxes, with a warning.
          --detector retinaface
                             facexlib's RetinaFace, 5 points of the largest face (weights {DETECTOR_FILE},
                             searched in experiments/pretrained_models/ and the caches, downloaded when allowed).
                             An image with no face found gets the template boxes, with a warning.
          --template         no detection: every image gets the boxes of the FFHQ alignment template (right
                             for faces aligned like FFHQ, e.g. by facexlib's FaceRestoreHelper).
        Default (--detector auto): RetinaFace if its weights are on this machine, else the template; a note
        says which. Boxes from 5 points fit a mean 68-point face shape to them; boxes from 68 points follow
        the official rule (centre of the eye / mouth points; half side = half the longer side of their
        bounding box, at least 16).
        The faces must be aligned like FFHQ: the script refuses a folder where more than half of the faces whose
        landmarks it has (from --landmarks or the detector; with the template, those of up to {ALIGNMENT_SAMPLE}
        images found by OpenCV's Haar cascades) have eyes or mouth more than {ALIGNMENT_TOLERANCE:g} of the image
        side away from the template's, or no face found there (--skip-alignment-check turns this off).
  --draw N --draw-dir DIR
        Also write the first N images of --images with the boxes drawn (left eye green, right eye blue,
        mouth red). With --ffhq-json, --images then only names the folder of images to draw on.

The output is written atomically; an existing one is replaced only with --force.
"""


def build_parser():
    """The options of scripts/extract_components.py, with --debug."""
    parser = argparse.ArgumentParser(description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('-o', '--output', required=True, help='the box file to write (.pth)')
    parser.add_argument('--ffhq-json', metavar='FILE', help="FFHQ's ffhq-dataset-v2.json")
    parser.add_argument('--images', metavar='FOLDER', help='folder of aligned square face images')
    source = parser.add_mutually_exclusive_group()
    source.add_argument('--landmarks', metavar='FILE', help='JSON of 5 or 68 points per image file name')
    source.add_argument(
        '--detector',
        choices=['auto', 'retinaface'],
        help='auto (default): RetinaFace if its weights are here, else the template; retinaface: require it')
    source.add_argument('--template', action='store_true', help='FFHQ template boxes for every image, no detection')
    parser.add_argument(
        '--detector-weights',
        default=DETECTOR_FILE,
        metavar='PATH',
        help=f'RetinaFace weights (default: {DETECTOR_FILE}, looked up in experiments/pretrained_models/ and caches)')
    parser.add_argument('--device', help='device for the detector (default: cuda if available, else cpu)')
    parser.add_argument('--draw', type=int, default=0, metavar='N', help='draw the boxes on the first N images')
    parser.add_argument('--draw-dir', metavar='DIR', help='where --draw writes its images')
    parser.add_argument(
        '--plain-floats',
        action='store_true',
        help='store plain Python floats instead of np.float64 values like the release file (any '
        'torch.load(weights_only=True) reads them without an allow-list, but the original GFPGAN dataset code cannot '
        'compute with them)')
    parser.add_argument(
        '--skip-alignment-check',
        action='store_true',
        help='write boxes for --images even if the faces do not look aligned like FFHQ')
    parser.add_argument('--force', action='store_true', help='overwrite an existing output file')
    return add_debug_argument(parser)


def check_arguments(args):
    """Refuse (ComponentExtractionError) option combinations that cannot work, before any image is read."""
    if not args.ffhq_json and not args.images:
        raise ComponentExtractionError('give --ffhq-json FILE or --images FOLDER.')
    if args.ffhq_json and (args.landmarks or args.detector or args.template):
        raise ComponentExtractionError(
            '--landmarks, --detector and --template choose landmarks for --images, not --ffhq-json.')
    if args.draw < 0:
        raise ComponentExtractionError('--draw N needs N >= 0.')
    if args.draw and not args.draw_dir:
        raise ComponentExtractionError('--draw N needs --draw-dir DIR.')
    if args.draw and not args.images:
        raise ComponentExtractionError('--draw needs --images FOLDER (the images to draw on).')
    if os.path.exists(args.output) and not args.force:
        raise ComponentExtractionError(f"'{args.output}' exists; pass --force to overwrite it.")


def run(args):
    """Write the box file the parsed options ask for (and the drawings); prints what was done, returns 0."""
    check_arguments(args)
    names = list_image_files(args.images) if args.images else []
    fallbacks = 0
    if args.ffhq_json:
        boxes = boxes_from_ffhq_json(args.ffhq_json)
        what = f'{len(boxes)} FFHQ entries'
    else:
        source, landmarks, detector = 'template', None, None
        if args.landmarks:
            source, landmarks = 'landmarks', read_json_object(
                args.landmarks, 'landmarks file', 'a JSON object mapping image file names to lists of [x, y] points')
        elif args.detector == 'retinaface':
            source = 'retinaface'
        elif not args.template:
            source = 'retinaface' if detector_available(args.detector_weights) else 'template'
            print('Note: ' + ('using RetinaFace (its weights are present).' if source == 'retinaface' else
                              f'RetinaFace weights ({args.detector_weights}) not found: using the FFHQ template boxes '
                              '(right for FFHQ-aligned faces); pass --detector retinaface to require the detector.'))
        if source == 'retinaface':
            detector = load_detector(args.detector_weights, args.device, allow_download=args.detector == 'retinaface')
        boxes, fallbacks, measured = boxes_from_folder(args.images, names, source, landmarks, detector)
        if not args.skip_alignment_check:
            check_alignment(args.images, names, measured)
        what = f'{len(names)} images ({source})'
    save_component_boxes(boxes, args.output, numpy_scalars=not args.plain_floats)
    drawn = draw_images(args.images, names, boxes, args.draw, args.draw_dir) if args.draw else 0
    print(f'Done: {what}, {len(boxes)} boxes written, {fallbacks} fell back to the template, output {args.output}' +
          (f', {drawn} drawn in {args.draw_dir}' if args.draw else '') + '.')
    return 0


def main(argv=None):
    """Parse ``argv`` and run; a ComponentExtractionError / OSError is run_cli's one ``error:`` line (exit code 2)."""
    return run(build_parser().parse_args(argv))
