"""Make the eye/mouth box file (FFHQ_eye_mouth_landmarks_512.pth layout) that training with facial-component
discriminators reads through the option `component_path` (``--help``; the code is gfpgan.data.component_extraction,
its command line gfpgan.data.component_extraction_cli)."""
import sys

from gfpgan.data.component_extraction_cli import main

if __name__ == '__main__':
    from gfpgan.errors import run_cli
    sys.exit(run_cli(main))
