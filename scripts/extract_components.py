"""Make the eye/mouth box file (FFHQ_eye_mouth_landmarks_512.pth layout) that training with facial-component
discriminators reads through the option `component_path`."""
import argparse
import json
import math
import os
import sys
import warnings

import cv2
import numpy as np

import gfpgan.data.components as components
from gfpgan.data.storage import IMAGE_EXTENSIONS, scan_images
from gfpgan.errors import GFPGANError
from gfpgan.utils.weights import WeightsNotFoundError, resolve_weights

DETECTOR_FILE = 'detection_Resnet50_Final.pth'
DETECTOR_THRESHOLD = 0.97  # the confidence facexlib's FaceRestoreHelper keeps faces at
# A face is aligned like FFHQ when its eye and mouth centres lie within this fraction of the image side of the
# template's (51 pixels at 512: 40 % of the eye distance); more than half the faces checked must be.
ALIGNMENT_TOLERANCE = 0.1
ALIGNMENT_SAMPLE = 16  # images searched for a face (OpenCV's Haar cascades) when the boxes come from the template
ALIGNMENT_VIEW = 256  # pixels on a side at which those images are searched
NOT_ALIGNED_HINT = ("not aligned like FFHQ; align them first (see datasets/README.md, 'Your own faces'), or "
                    'pass --skip-alignment-check if they are')

DESCRIPTION = f"""\
Write the eye / mouth boxes that GFPGAN's facial-component discriminators crop (option `component_path`),
in the layout of the release file FFHQ_eye_mouth_landmarks_512.pth
  {components.RELEASE_URL}
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


class UserError(GFPGANError):
    """A problem the user can fix, reported as one sentence."""


def list_image_files(folder):
    """Image file names of ``folder`` (not recursive) in the order the training datasets index them."""
    return [os.path.basename(path) for path in scan_images(folder)]


def progress(iterable, **kwargs):
    from tqdm import tqdm
    return tqdm(iterable, dynamic_ncols=True, **kwargs)


def warn(message):
    from tqdm import tqdm
    tqdm.write(f'warning: {message}', file=sys.stderr)


def read_image(path):
    """(H, W, 3) uint8 BGR image; a non-square or unreadable one is a UserError."""
    img = cv2.imread(path, cv2.IMREAD_COLOR)
    if img is None:
        raise UserError(f"cannot read image '{path}'.")
    if img.shape[0] != img.shape[1]:
        raise UserError(f"'{path}' is {img.shape[1]}x{img.shape[0]}: only square aligned faces are supported.")
    return img


def boxes_from_points(points, image_size, where):
    """Boxes from 5 or 68 points in the pixels of an ``image_size`` square image."""
    points = np.asarray(points, dtype=np.float64)
    if points.ndim != 2 or points.shape[1] != 2 or len(points) not in (5, 68):
        raise UserError(f'{where}: expected 5 or 68 [x, y] points, got an array of shape {points.shape}.')
    points = points * (components.BOX_FRAME / image_size)
    try:
        if len(points) == 5:
            return components.boxes_from_landmarks5(points)
        return components.boxes_from_landmarks68(points)
    except ValueError as err:
        raise UserError(f'{where}: {err}') from None


def load_detector(weights, device, allow_download):
    """facexlib's RetinaFace (ResNet-50) with weights resolved locally (or downloaded if allowed), loaded safely."""
    from gfpgan.faces.detectors import RetinaFaceDetector
    from gfpgan.utils.checkpoint import CheckpointError
    try:
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')  # torchvision's notice about the `pretrained` argument facexlib passes
            return RetinaFaceDetector(
                'retinaface_resnet50',
                weights=weights,
                device=device,
                conf_threshold=DETECTOR_THRESHOLD,
                allow_download=allow_download)
    except (WeightsNotFoundError, CheckpointError, FileNotFoundError) as err:
        raise UserError(str(err)) from None


def detect_landmarks5(model, img):
    """(5, 2) landmarks of the largest face RetinaFace finds in the BGR uint8 ``img``, or None."""
    faces = model.detect_faces(img, DETECTOR_THRESHOLD)
    if len(faces) == 0:
        return None
    areas = (faces[:, 2] - faces[:, 0]) * (faces[:, 3] - faces[:, 1])
    return np.asarray(faces[int(np.argmax(areas)), 5:15], dtype=np.float64).reshape(5, 2)


def detector_available(weights):
    """Whether RetinaFace can run without a download: its weights are on this machine and facexlib imports."""
    try:
        resolve_weights(weights, download=False)
        import facexlib.detection.retinaface  # noqa: F401
    except (ImportError, WeightsNotFoundError):
        return False
    return True


def read_json_object(path, what, expected):
    """The JSON object in ``path``; ``what`` names the file and ``expected`` its content in errors."""
    try:
        with open(path, 'rb') as f:
            data = json.load(f)
    except (OSError, ValueError) as err:
        raise UserError(f"cannot read {what} '{path}' as JSON ({err}).") from None
    if not isinstance(data, dict):
        raise UserError(f"'{path}' must be {expected}.")
    return data


def boxes_from_ffhq_json(path):
    """``{key: boxes}`` for every entry of ffhq-dataset-v2.json."""
    boxes = {}
    for number, entry in progress(
            read_json_object(path, 'FFHQ metadata', 'the FFHQ metadata (a JSON object keyed by image number)').items(),
            desc='entries',
            unit='face'):
        try:
            key = components.dataset_key(number)
        except ValueError:
            raise UserError(f"'{path}': entry key {number!r} is not an image number.") from None
        try:
            boxes[key] = components.boxes_from_ffhq_entry(entry)
        except ValueError as err:
            raise UserError(f"'{path}': entry {number!r}: {err}") from None
    return boxes


def boxes_from_folder(folder, names, source, landmarks=None, detector=None):
    """``({key: boxes}, fallbacks, measured)`` for the image files ``names`` of ``folder`` (key = position in
    ``names``); ``measured`` is ``{name: boxes}`` of the images whose boxes come from landmarks."""
    template = components.ffhq_template_boxes()
    boxes, fallbacks, measured = {}, 0, {}
    for index, name in enumerate(progress(names, desc='images', unit='img')):
        path = os.path.join(folder, name)
        entry = template
        if source == 'landmarks':
            if name in landmarks:
                entry = measured[name] = boxes_from_points(landmarks[name],
                                                           read_image(path).shape[0], f"landmarks of '{name}'")
            else:
                warn(f"'{name}' is not in the landmarks file; using the template boxes.")
                fallbacks += 1
        elif source == 'retinaface':
            img = read_image(path)
            points = detect_landmarks5(detector, img)
            if points is None:
                warn(f"no face found in '{name}'; using the template boxes.")
                fallbacks += 1
            else:
                entry = measured[name] = boxes_from_points(points, img.shape[0], f"detected landmarks of '{name}'")
        boxes[components.dataset_key(index)] = entry
    return boxes, fallbacks, measured


def template_deviation(boxes):
    """The largest distance between the eye / mouth box centres of ``boxes`` (512-pixel frame) and the FFHQ
    template's, as a fraction of the image side: about 0 for a face aligned like FFHQ."""
    template = components.ffhq_template_boxes()
    return max(math.hypot(boxes[part][0] - template[part][0], boxes[part][1] - template[part][1])
               for part in components.COMPONENTS) / components.BOX_FRAME


def boxes_found_by_haar(img):
    """Boxes (512-pixel frame) of the largest frontal face that OpenCV's Haar cascades find in the square BGR
    ``img`` searched at ALIGNMENT_VIEW pixels, or None when there is none."""
    from gfpgan.data.demo_faces import find_faces
    view = cv2.resize(img, (ALIGNMENT_VIEW, ALIGNMENT_VIEW), interpolation=cv2.INTER_AREA)
    faces = find_faces(view, min_face=ALIGNMENT_VIEW // 6)
    if not faces:
        return None
    return components.boxes_from_landmarks5(faces[0].landmarks * (components.BOX_FRAME / ALIGNMENT_VIEW))


def sample_names(names, count):
    """Up to ``count`` of ``names``, spread evenly over them."""
    if len(names) <= count:
        return list(names)
    return [names[int(i)] for i in np.linspace(0, len(names) - 1, count).round()]


def check_alignment(folder, names, measured):
    """Refuse (UserError) a folder whose faces are not aligned like FFHQ: more than half of those checked have eyes
    or mouth off the template, or no face found. ``measured`` ({name: boxes} from landmarks) is checked when given,
    else up to ALIGNMENT_SAMPLE images searched with Haar cascades. Returns (off, checked)."""
    if measured:
        off = sum(template_deviation(b) > ALIGNMENT_TOLERANCE for b in measured.values())
        checked = len(measured)
    else:
        from gfpgan.data.demo_faces import DemoFacesError
        off = checked = 0
        for name in sample_names(names, ALIGNMENT_SAMPLE):
            try:
                found = boxes_found_by_haar(read_image(os.path.join(folder, name)))
            except DemoFacesError as err:  # no detector at all on this machine: say so and trust the user
                warn(f'cannot check that the faces are aligned like FFHQ ({err})')
                return 0, 0
            checked += 1
            off += found is None or template_deviation(found) > ALIGNMENT_TOLERANCE
    if checked and off * 2 > checked:
        raise UserError(f"{off} of the {checked} faces checked in '{folder}' are {NOT_ALIGNED_HINT}.")
    return off, checked


def draw_images(folder, names, boxes, count, draw_dir):
    """Write the first ``count`` images with their boxes drawn into ``draw_dir``; returns how many were written."""
    os.makedirs(draw_dir, exist_ok=True)
    written = 0
    for index, name in enumerate(names[:count]):
        key = components.dataset_key(index)
        if key not in boxes:
            warn(f"no boxes for '{name}' (key {key}); not drawn.")
            continue
        img = read_image(os.path.join(folder, name))
        out_path = os.path.join(draw_dir, os.path.splitext(name)[0] + '.png')
        if not cv2.imwrite(out_path, components.draw_component_boxes(img, boxes[key], img.shape[0])):
            raise UserError(f"cannot write '{out_path}'.")
        written += 1
    return written


def build_parser():
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
    return parser


def check_arguments(args):
    if not args.ffhq_json and not args.images:
        raise UserError('give --ffhq-json FILE or --images FOLDER.')
    if args.ffhq_json and (args.landmarks or args.detector or args.template):
        raise UserError('--landmarks, --detector and --template choose landmarks for --images, not --ffhq-json.')
    if args.draw < 0:
        raise UserError('--draw N needs N >= 0.')
    if args.draw and not args.draw_dir:
        raise UserError('--draw N needs --draw-dir DIR.')
    if args.draw and not args.images:
        raise UserError('--draw needs --images FOLDER (the images to draw on).')
    if os.path.exists(args.output) and not args.force:
        raise UserError(f"'{args.output}' exists; pass --force to overwrite it.")


def run(args):
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
    components.save_component_boxes(boxes, args.output, numpy_scalars=not args.plain_floats)
    drawn = draw_images(args.images, names, boxes, args.draw, args.draw_dir) if args.draw else 0
    print(f'Done: {what}, {len(boxes)} boxes written, {fallbacks} fell back to the template, output {args.output}' +
          (f', {drawn} drawn in {args.draw_dir}' if args.draw else '') + '.')
    return 0


def main(argv=None):
    from gfpgan.errors import add_debug_argument
    args = add_debug_argument(build_parser()).parse_args(argv)
    return run(args)  # a UserError / OSError is run_cli's one `error:` line (exit code 2)


if __name__ == '__main__':
    from gfpgan.errors import run_cli
    sys.exit(run_cli(main))
