"""Face parsing: facexlib's ParseNet (19 classes) as an offline-loaded module, any parser behind the same
``face_mask(face)`` interface, and the soft face-region mask that restoration pastes faces back through."""
import cv2
import numpy as np
import torch
from torch import nn

from gfpgan.utils.checkpoint import load_network
from gfpgan.utils.device import conv_memory_format, resolve_device
from gfpgan.utils.img_util import bgr_to_tensor
from gfpgan.utils.optional import import_optional
from gfpgan.utils.weights import resolve_weights

from .wrapper import Wrapper

__all__ = [
    'PARSENET_FILE', 'PARSE_FACE_CLASSES', 'parse_face_mask', 'ParseNetParser', 'ParserModule', 'as_parser_module',
    'soft_face_mask'
]

PARSENET_FILE = 'parsing_parsenet.pth'
# ParseNet's 19 classes that belong to the pasted face region (background, neck, cloth, hair, hat excluded).
PARSE_FACE_CLASSES = (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 15)


def parse_face_mask(labels):
    """ParseNet's (H, W) class map -> float32 mask in {0, 1} of the face region (``PARSE_FACE_CLASSES``)."""
    return np.isin(labels, PARSE_FACE_CLASSES).astype(np.float32)


def _face_tensor(face, device):
    """(S, S, 3) BGR uint8 face -> (1, 3, 512, 512) RGB float tensor in [-1, 1] on ``device`` (facexlib's input),
    channels-last as a permuted image is (a network called on it directly computes as it always has)."""
    x = bgr_to_tensor(cv2.resize(face, (512, 512), interpolation=cv2.INTER_LINEAR), (-1, 1))
    return x.contiguous(memory_format=torch.channels_last).to(device)


class ParseNetParser(nn.Module):
    """facexlib's ParseNet as an ``nn.Module`` (the network is the submodule ``net``; ``.to(device)`` moves it).

    Called with a (512, 512, 3) BGR uint8 face (or ``face_mask(face)``): the (512, 512) float32 mask in {0, 1} of the
    face region (skin, brows, eyes, ears, nose, mouth, lips). Called with a (B, 3, 512, 512) RGB tensor in [-1, 1]:
    ParseNet's own output (parsing logits, image), as facexlib's ``face_parse`` is called. ``net``: an already built
    ParseNet (then no weights are read)."""

    def __init__(self, weights=None, device=None, allow_download=True, net=None):
        super().__init__()
        if net is None:
            path = resolve_weights(weights or PARSENET_FILE, download=allow_download)
            ParseNet = import_optional('facexlib.parsing.parsenet', 'The ParseNet paste-back mask (use_parse)').ParseNet
            net = ParseNet(in_size=512, out_size=512, parsing_ch=19)
            load_network(net, path, param_key=None)
        self.net = net.eval()
        self.to(resolve_device(device))

    @property
    def device(self):
        param = next(self.net.parameters(), None)
        return param.device if param is not None else torch.device('cpu')

    def face_mask(self, face):
        x = _face_tensor(face, self.device)
        memory_format = conv_memory_format(self.device)
        with torch.no_grad():
            labels = self.net(x.contiguous(memory_format=memory_format))[0].argmax(dim=1)[0].cpu().numpy()
        return parse_face_mask(labels)

    def forward(self, x):
        if isinstance(x, np.ndarray):
            return self.face_mask(x)
        return self.net(x)


class ParserModule(Wrapper):
    """A face-mask callable (face (512, 512, 3) BGR uint8 -> (512, 512) mask in [0, 1]) as the ``nn.Module`` that
    ``FaceRestoreHelper.face_parse`` is; a network given instead is used facexlib's way (an RGB tensor in [-1, 1]
    in, ``[0]`` of its output the parsing logits) and is a submodule that ``.to(device)`` moves. Other attributes
    are the wrapped parser's."""

    INNER = 'parser'

    def __init__(self, parser):
        super().__init__()
        if not callable(parser):
            raise TypeError(f'A face parser must be callable; got {type(parser).__name__}.')
        self.parser = parser

    def face_mask(self, face):
        if isinstance(self.parser, nn.Module):
            param = next(self.parser.parameters(), None)
            device = param.device if param is not None else torch.device('cpu')
            with torch.no_grad():
                labels = self.parser(_face_tensor(face, device))[0].argmax(dim=1)[0].cpu().numpy()
            return parse_face_mask(labels)
        return self.parser(face)

    def forward(self, x):
        if isinstance(x, np.ndarray):
            return self.face_mask(x)
        return self.parser(x)


def as_parser_module(parser):
    """``parser`` itself if it is a module with ``face_mask`` (ParseNetParser, ParserModule), else wrapped in a
    ParserModule."""
    if isinstance(parser, nn.Module) and hasattr(parser, 'face_mask'):
        return parser
    return ParserModule(parser)


def soft_face_mask(parser, face):
    """Soft face-region mask of a restored ``face`` (its size, float64 in [0, 1]): ``parser.face_mask`` at 512,
    blurred and with a 10-pixel zero border, as facexlib pastes faces with parsing."""
    mask = np.asarray(parser.face_mask(cv2.resize(face, (512, 512), interpolation=cv2.INTER_LINEAR)))
    mask = np.clip(mask.astype(np.float64), 0, 1)
    mask = cv2.GaussianBlur(mask, (101, 101), 11)
    mask = cv2.GaussianBlur(mask, (101, 101), 11)
    mask[:10, :] = 0
    mask[-10:, :] = 0
    mask[:, :10] = 0
    mask[:, -10:] = 0
    return cv2.resize(mask, (face.shape[1], face.shape[0]))
