"""Run a generator checkpoint over a folder of aligned faces, as the official inference restores them, to evaluate
it on a test set (scripts/test_gfpgan.py; its command line is ``gfpgan.metrics.cli.checkpoint_test_main``)."""
import os

__all__ = ['build_generator', 'restore_folder']


def build_generator(model, arch=None, channel_multiplier=None, opt=None, param_key='params_ema'):
    """(network in eval mode, its face size): the network_g of the training options file ``opt``, or the released
    ``arch``, or (``arch`` None) the network the checkpoint ``model`` carries (else 'clean'), with its weights
    ``param_key`` (gfpgan.archs.presets.load_generator, the home inference shares)."""
    from gfpgan.archs.presets import load_generator, network_face_size
    net, options = load_generator(model, arch, channel_multiplier, opt, param_key)
    return net, network_face_size(options)


def restore_folder(net, size, input_dir, out_dir, device, seed=0, progress=True):
    """Restore every image of ``input_dir`` (aligned faces) into ``out_dir``/<name>.png; returns the written paths."""
    import torch
    from tqdm import tqdm

    from gfpgan.data.storage import scan_images
    from gfpgan.errors import os_error_at
    from gfpgan.utils.img_util import img2tensor, imwrite, read_image, resize_square, tensor2img
    net = net.to(device)
    torch.manual_seed(seed)
    written = []
    for path in tqdm(scan_images(input_dir, option='--input'), desc='restoring', unit='face', disable=not progress):
        img = resize_square(read_image(path), size)
        x = (img2tensor(img, bgr2rgb=False) * 2 - 1).unsqueeze(0).to(device)
        with torch.no_grad():
            out = net(x, return_rgb=False)[0]
        name = os.path.splitext(os.path.relpath(path, input_dir))[0] + '.png'
        target = os.path.join(out_dir, name)
        try:
            imwrite(tensor2img(out, rgb2bgr=True, min_max=(-1, 1)), target)
        except OSError as err:  # a full disk, a lost permission: stop, naming the file
            raise os_error_at(err, target) from err
        written.append(target)
    return written
