"""inference_gfpgan.py on videos: a clip with audio end to end (frame count, timestamps and audio kept, frames saved),
a folder mixing a photo, a video and a broken video, the preflight of the video options and of a bad single video
(a small random restorer and a known-landmarks detector stand in for the release files)."""
import errno
import os
import time

import av
import cv2
import pytest

from gfpgan.faces.detectors import LandmarksDetector
from gfpgan.restoration import cli
from gfpgan.utils import img_util
from gfpgan.video.inference import stability_options, video_output_path
from gfpgan.video.io import probe
from gfpgan.video.synthetic import moving_face_clip, write_clip
from stable_clip import single_torch_thread, tiny_restorer  # noqa: F401 (autouse)


@pytest.fixture(scope='module')
def still_clip(astronaut_face):
    face, landmarks = astronaut_face
    return moving_face_clip(face, landmarks, frames=12, size=(160, 120), path='static', landmark_noise=0)


@pytest.fixture
def small_restorer(monkeypatch, still_clip):
    built = []

    def build(args, found=None):
        built.append(tiny_restorer(LandmarksDetector(still_clip.true_landmarks[0]), upscale=args.upscale))
        return built[-1]

    monkeypatch.setattr(cli, 'build_restorer', build)
    monkeypatch.setattr(cli, 'required_files', lambda args: [])  # the stand-ins need no pretrained file
    return built


def _packets(path, kind):
    with av.open(str(path)) as container:
        stream = [s for s in container.streams if s.type == kind][0]
        return [(p.pts, p.duration, bytes(p)) for p in container.demux(stream) if p.size]


def _pts(path):
    with av.open(str(path)) as container:
        return [frame.time for frame in container.decode(video=0)]


def test_a_clip_with_audio_end_to_end(tmp_path, small_restorer, still_clip, capsys):
    clip = write_clip(tmp_path / 'clip.mp4', still_clip.frames, fps=25, audio='sine')
    before = open(clip, 'rb').read()
    out = tmp_path / 'out'
    code = cli.main(['-i', str(clip), '-o', str(out), '-s', '2', '--bg_upsampler', 'none', '--suffix', 'gf',
                     '--save_frames', '--no_progress'])
    assert code == 0
    printed = capsys.readouterr().out
    assert '1 video(s), 12 frame(s), 12 face(s) restored' in printed and '1 track(s)' in printed
    restored = out / 'restored_videos' / 'clip_gf.mp4'
    info, source = probe(restored), probe(clip)
    assert (info.width, info.height, info.frame_count, info.audio_streams) == (320, 240, 12, 1)
    assert _pts(restored) == pytest.approx(_pts(clip))
    assert _packets(restored, 'audio') == _packets(clip, 'audio')  # copied bit-exactly
    assert info.duration == pytest.approx(source.duration, abs=0.05)
    frames = sorted(os.listdir(out / 'restored_frames' / 'clip_gf'))
    assert frames == [f'{i:06d}.png' for i in range(12)]
    assert cv2.imread(str(out / 'restored_frames' / 'clip_gf' / frames[0])).shape == (240, 320, 3)
    assert open(clip, 'rb').read() == before
    assert not [name for name in os.listdir(out / 'restored_videos') if name != 'clip_gf.mp4']  # no temporaries


def test_a_folder_with_a_photo_a_video_and_a_broken_video(tmp_path, small_restorer, still_clip, capsys):
    folder = tmp_path / 'in'
    folder.mkdir()
    write_clip(folder / 'good.mkv', still_clip.frames[:6], fps=25, audio='pcm')
    truncated = open(write_clip(tmp_path / 'whole.mp4', still_clip.frames[:6], audio=None), 'rb').read()
    (folder / 'broken.mp4').write_bytes(truncated[:len(truncated) // 3])
    (folder / 'notes.mov').write_text('not a video')
    cv2.imwrite(str(folder / 'photo.png'), still_clip.frames[0])
    out = tmp_path / 'out'
    code = cli.main(['-i', str(folder), '-o', str(out), '-s', '1', '--bg_upsampler', 'none', '--no_progress',
                     '--no_tracking', '--no_landmark_smoothing', '--fresh_noise', '--no_mask_smoothing'])
    assert code == 1
    printed = capsys.readouterr()
    assert '1 photo(s), 1 face(s); 1 video(s), 6 frame(s), 6 face(s) restored' in printed.out
    assert 'broken.mp4' in printed.out and 'notes.mov' in printed.out and '2 failed' in printed.out
    assert 'skipped' in printed.err and 'broken.mp4' in printed.err
    assert sorted(os.listdir(out / 'restored_videos')) == ['good.mkv']
    assert len(_pts(out / 'restored_videos' / 'good.mkv')) == 6
    assert os.listdir(out / 'restored_imgs') == ['photo.png']


def test_a_bad_single_video_or_bad_video_options_stop_before_any_work(tmp_path, small_restorer, still_clip, capsys):
    bad = tmp_path / 'bad.mp4'
    bad.write_bytes(b'\0' * 1000)
    assert cli.main(['-i', str(bad), '-o', str(tmp_path / 'o'), '--no_progress']) == 2
    err = capsys.readouterr().err
    assert err.count('error') == 1 and 'bad.mp4' in err
    clip = write_clip(tmp_path / 'clip.mp4', still_clip.frames[:3], audio=None)
    assert cli.main(['-i', str(clip), '-o', str(tmp_path / 'o'), '--crf', '99', '--detect_every', '0',
                     '--video_codec', 'prores-ultra']) == 2
    err = capsys.readouterr().err
    assert '--crf must lie in 0..63' in err and '--detect_every must be at least 1' in err
    assert "Unknown video codec 'prores-ultra'" in err
    assert not small_restorer  # nothing was built
    odd = write_clip(tmp_path / 'odd.mkv', [f[:, :-1] for f in still_clip.frames[:2]], audio=None, codec='ffv1')
    assert cli.main(['-i', str(odd), '-o', str(tmp_path / 'o'), '-s', '1', '--no_progress']) == 2
    assert '159x120, but h264 needs an even width and height' in capsys.readouterr().err
    inside = tmp_path / 'restored_videos'
    inside.mkdir()
    own = write_clip(inside / 'own.mp4', still_clip.frames[:3], audio=None)
    assert cli.main(['-i', str(own), '-o', str(tmp_path), '--no_progress']) == 2  # the output would be the input
    assert 'would overwrite it' in capsys.readouterr().err
    assert not small_restorer


def test_switches_and_output_names():
    args = cli.build_parser().parse_args(['--no_tracking', '--fresh_noise', '--detect_every', '3', '-o', 'r'])
    options = stability_options(args)
    assert (options.tracking, options.smooth_landmarks, options.fixed_noise, options.smooth_masks) == \
        (False, True, False, True)
    assert options.detect_every == 3
    assert video_output_path(args, 'x/a.MP4') == os.path.join('r', 'restored_videos', 'a.mp4')
    assert video_output_path(args, 'x/a.ts') == os.path.join('r', 'restored_videos', 'a.mkv')
    ffv1 = cli.build_parser().parse_args(['--video_codec', 'ffv1', '--suffix', 's', '-o', 'r'])
    assert video_output_path(ffv1, 'a.mp4') == os.path.join('r', 'restored_videos', 'a_s.mkv')


def test_a_full_disk_stops_a_folder_run(tmp_path, small_restorer, still_clip, capsys, monkeypatch):
    """FFmpeg's "no space left" while encoding stops the run (exit 2, one sentence naming the output) instead of
    failing every later video the same way; another write error skips just that video."""
    from gfpgan.video.writer import VideoWriter
    folder = tmp_path / 'in'
    folder.mkdir()
    for name in ('a.mkv', 'b.mkv'):
        write_clip(folder / name, still_clip.frames[:3], fps=25, audio=None)
    calls, real_mux = [], VideoWriter._mux

    def full(self, packets):
        calls.append(self.path)
        raise av.error.OSError(errno.ENOSPC, 'No space left on device', self._video_tmp)

    monkeypatch.setattr(VideoWriter, '_mux', full)
    args = ['-i', str(folder), '-o', str(tmp_path / 'out'), '-s', '1', '--bg_upsampler', 'none', '--no_progress']
    assert cli.main(args) == 2
    err = capsys.readouterr().err
    assert err.count('error:') == 1 and 'no space left' in err and os.path.join('restored_videos', 'a.mkv') in err
    assert len(calls) == 1 and not os.listdir(tmp_path / 'out' / 'restored_videos')

    def broken(self, packets):
        calls.append(self.path)
        raise av.error.OSError(errno.EIO, 'Input/output error')

    monkeypatch.setattr(VideoWriter, '_mux', broken)
    assert cli.main(args) == 1  # both videos tried, both skipped and counted
    assert '2 failed' in capsys.readouterr().out and len(calls) == 3
    monkeypatch.setattr(VideoWriter, '_mux', real_mux)

    def no_space(img, path, *rest, **kwargs):
        raise OSError(errno.ENOSPC, 'No space left on device')  # as a failed write of an open file: no name

    monkeypatch.setattr(img_util, 'imwrite', no_space)
    assert cli.main(args + ['--save_frames']) == 2  # a saved frame on a full disk stops the run too
    err = capsys.readouterr().err
    assert err.count('error:') == 1 and 'no space left' in err and os.path.join('a', '000000.png') in err


def test_a_rerun_removes_only_stale_writer_temporaries(tmp_path, small_restorer, still_clip, capsys):
    clip = write_clip(tmp_path / 'clip.mkv', still_clip.frames[:3], audio=None)
    videos = tmp_path / 'out' / 'restored_videos'
    videos.mkdir(parents=True)
    names = {'.clip.mkv.video.0123abcd.tmp': True, '.old.mp4.mux.89abcdef.tmp': True,  # stale: removed
             '.live.mkv.video.0123abcd.tmp': False,  # a running writer's (recent): kept
             '.photo.png.0123abcd.tmp': False, 'clip.mkv.video.0123abcd.tmp': False, 'notes.txt': False}
    hours_ago = time.time() - 2 * 3600
    for name, stale in names.items():
        (videos / name).write_bytes(b'x' * 100)
        os.utime(videos / name, (hours_ago, hours_ago) if stale or name != '.live.mkv.video.0123abcd.tmp' else None)
    assert cli.main(['-i', str(clip), '-o', str(tmp_path / 'out'), '-s', '1', '--bg_upsampler', 'none',
                     '--no_progress']) == 0
    err = capsys.readouterr().err
    assert 'removed 2 temporary file(s)' in err and '.clip.mkv.video.0123abcd.tmp' in err and '200 bytes' in err
    kept = sorted(name for name, stale in names.items() if not stale)
    assert sorted(os.listdir(videos)) == sorted(kept + ['clip.mkv'])


def test_videos_of_unusual_extensions_are_found_by_opening_them(tmp_path, small_restorer, still_clip, capsys):
    folder = tmp_path / 'in'
    folder.mkdir()
    clip = open(write_clip(tmp_path / 'c.mkv', still_clip.frames[:3], audio=None), 'rb').read()
    (folder / 'clip.vob').write_bytes(clip)
    (folder / 'notes.dat').write_text('not a video')
    cv2.imwrite(str(folder / 'photo.png'), still_clip.frames[0])
    out = tmp_path / 'out'
    assert cli.main(['-i', str(folder), '-o', str(out), '-s', '1', '--bg_upsampler', 'none', '--no_progress']) == 1
    printed = capsys.readouterr().out
    assert '1 photo(s), 1 face(s); 1 video(s), 3 frame(s)' in printed and '1 failed: ' in printed
    assert 'notes.dat' in printed and os.listdir(out / 'restored_videos') == ['clip.mkv']
    (tmp_path / 'single.y4m').write_bytes(clip)
    assert cli.main(['-i', str(tmp_path / 'single.y4m'), '-o', str(out), '-s', '1', '--no_progress']) == 0
    assert sorted(os.listdir(out / 'restored_videos')) == ['clip.mkv', 'single.mkv']


def test_crf_is_checked_per_codec_and_the_help_names_frame_files(tmp_path, small_restorer, still_clip, capsys):
    clip = write_clip(tmp_path / 'clip.mp4', still_clip.frames[:2], audio=None)
    assert cli.main(['-i', str(clip), '-o', str(tmp_path / 'o'), '--crf', '55', '--no_progress']) == 2
    err = capsys.readouterr().err
    assert "--crf: for '" in err and 'h264 takes 0..51 (lower is better quality), got 55' in err
    assert not small_restorer
    assert '<index>.png, the index with six digits from 000000.png' in ' '.join(cli.EPILOG.split())
    assert '0..63 for vp9' in cli.build_parser().format_help()
