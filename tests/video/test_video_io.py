"""Video in and out through PyAV: timing, rotation, copied audio / subtitles, codec choice, bad files, atomic output."""
import dataclasses
import errno
import gc
import logging
import os
import subprocess
import sys
import time
from fractions import Fraction

import numpy as np
import pytest

av = pytest.importorskip('av')

import gfpgan.video.codecs as codecs  # noqa: E402
from gfpgan.errors import GFPGANError  # noqa: E402
from gfpgan.utils.fileio import is_temporary_name, remove_stale_temporaries  # noqa: E402
from gfpgan.video.io import (VIDEO_EXTENSIONS, ColorTags, VideoError, VideoFrame, VideoReader,  # noqa: E402
                             VideoWriter, available_video_codecs, is_video_file, probe)
from gfpgan.video.synthetic import write_clip  # noqa: E402
from gfpgan.video.writer import STALE_AFTER_S, is_video_temporary, remove_stale_video_temporaries  # noqa: E402

SUBTITLES = [(0.1, 0.5, 'first line'), (0.6, 0.9, 'second line')]


def copy_video(src, dst, **kwargs):
    """Read ``src`` and write every frame unchanged to ``dst``; returns the writer."""
    with VideoReader(src) as reader:
        info = reader.info
        with VideoWriter(dst, info, info.width, info.height, **kwargs) as writer:
            for frame in reader:
                writer.write(frame)
    return writer


def video_pts(path):
    with av.open(str(path)) as container:
        return [frame.pts for frame in container.decode(video=0)]


def stream_packets(path, kind):
    """(pts, dts, duration, bytes) of every packet of the first ``kind`` stream ('audio' / 'subtitle')."""
    with av.open(str(path)) as container:
        stream = [s for s in container.streams if s.type == kind][0]
        return [(p.pts * p.time_base, p.dts * p.time_base, p.duration * p.time_base, bytes(p))
                for p in container.demux(stream) if p.size]


def psnr(a, b):
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64))**2)
    return 10 * np.log10(255.0**2 / max(mse, 1e-10))


def test_is_video_file_by_extension_only(tmp_path):
    assert is_video_file('a/b/Clip.MP4') and is_video_file(tmp_path / 'x.mkv')
    assert not is_video_file('photo.png') and not is_video_file('video')
    assert all(ext == ext.lower() and ext.startswith('.') for ext in VIDEO_EXTENSIONS)


def test_available_codecs_are_really_usable(tmp_path, small_clip):
    codecs_here = available_video_codecs()
    assert {'mpeg4', 'ffv1'} <= set(codecs_here)  # FFmpeg's own encoders, in every build
    for name in codecs_here:
        ext = '.webm' if name == 'vp9' else '.mkv'
        path = write_clip(tmp_path / f'{name}{ext}', small_clip.frames[:3], audio=None, codec=name)
        assert probe(path).codec in (name, codecs_here[name])


def test_round_trip_keeps_frames_timing_audio_and_subtitles(tmp_path, small_clip):
    src = write_clip(tmp_path / 'in.mp4', small_clip.frames, fps=25, subtitles=SUBTITLES)
    out = tmp_path / 'out.mp4'
    copy_video(src, out)
    a, b = probe(src), probe(out)
    assert (b.frame_count, b.fps, b.width, b.height, b.rotation) == (24, 25.0, 160, 120, 0)
    assert (b.audio_streams, b.subtitle_streams) == (1, 1)
    assert abs(b.duration - a.duration) <= 1 / a.fps
    times_in = [p * a.time_base for p in video_pts(src)]
    assert [p * b.time_base for p in video_pts(out)] == times_in
    assert times_in == [Fraction(i, 25) for i in range(24)]
    audio = stream_packets(src, 'audio')
    assert len(audio) > 30 and stream_packets(out, 'audio') == audio  # bytes and timestamps, bit-identical
    subtitles = stream_packets(src, 'subtitle')
    assert len(subtitles) >= 2 and stream_packets(out, 'subtitle') == subtitles
    assert b'second line' in b''.join(p[3] for p in subtitles)
    with VideoReader(out) as reader:
        frames = list(reader)
    assert [f.index for f in frames] == list(range(24)) and reader.errors == reader.repaired_timestamps == 0
    assert b.estimated_frames == 24 and probe(tmp_path / 'in.mp4').estimated_frames == 24
    assert min(psnr(f.image, g) for f, g in zip(frames, small_clip.frames)) > 30  # crf 18, twice


def test_ntsc_frame_rate_is_exact_in_mp4(tmp_path, small_clip):
    src = write_clip(tmp_path / 'ntsc.mp4', small_clip.frames[:12], fps=Fraction(30000, 1001), audio=None)
    out = tmp_path / 'ntsc_out.mp4'
    copy_video(src, out)
    info = probe(out)
    assert info.frame_rate == Fraction(30000, 1001) and info.duration == pytest.approx(12 * 1001 / 30000)
    assert [p * info.time_base for p in video_pts(out)] == [Fraction(1001 * i, 30000) for i in range(12)]


@pytest.mark.parametrize('ext, count', [('.mp4', 24), ('.mp4', 20), ('.mkv', 24)])
def test_variable_frame_rate_start_offset_and_duration_survive_exactly(tmp_path, small_clip, ext, count):
    gaps = [3000, 3600, 4500, 3003, 7200, 1800]
    pts = [int(p) for p in np.cumsum([9000] + [gaps[i % len(gaps)] for i in range(count - 1)])]  # starts 0.1 s in
    src = write_clip(tmp_path / f'vfr{ext}', small_clip.frames[:count], vfr_pts=pts)
    out = tmp_path / f'vfr_out{ext}'
    copy_video(src, out)
    a, b = probe(src), probe(out)
    if ext == '.mp4':
        expected = [Fraction(p, 90000) for p in pts]
        end = Fraction(pts[-1] + pts[-1] - pts[-2], 90000)  # the last frame lasts as long as the one before
    else:  # Matroska counts milliseconds
        expected = [Fraction(round(p / 90), 1000) for p in pts]
        end = Fraction(round((2 * pts[-1] - pts[-2]) / 90), 1000)
    assert [p * a.time_base for p in video_pts(src)] == expected
    assert [p * b.time_base for p in video_pts(out)] == expected
    if ext == '.mkv':  # the same length as the source, to the tick
        assert a.end_pts * a.time_base == b.end_pts * b.time_base == end
    else:  # FFmpeg measures an MP4 track with B-frames by its decode times: with a variable rate, within one frame
        longest = Fraction(max(gaps), 90000)
        assert abs(a.end_pts * a.time_base - end) <= longest and abs(b.end_pts - a.end_pts) * b.time_base <= longest
    assert 21 < b.fps < 25  # the average, also where Matroska's own figure is off
    with VideoReader(out) as reader:
        assert [f.time for f in reader] == [float(t) for t in expected]
    assert reader.errors == 0  # nothing taken for a truncation
    assert stream_packets(out, 'audio') == stream_packets(src, 'audio')


@pytest.mark.parametrize('rotation', [90, 180, 270])
def test_rotation_metadata_round_trips_and_frames_come_upright(tmp_path, small_clip, rotation):
    upright = small_clip.frames[:8]
    src = write_clip(tmp_path / 'rot.mp4', upright, rotation=rotation)
    with av.open(src) as container:  # stored turned, as a phone does
        stored = next(container.decode(video=0))
        size = (160, 120) if rotation == 180 else (120, 160)
        assert (stored.width, stored.height, stored.rotation % 360) == size + (rotation, )
    info = probe(src)
    assert (info.rotation, info.width, info.height) == (rotation, 160, 120)
    out = tmp_path / 'rot_out.mp4'
    copy_video(src, out)
    assert (probe(out).rotation, probe(out).width, probe(out).height) == (rotation, 160, 120)
    with VideoReader(out) as reader:
        frames = [f.image for f in reader]
    assert frames[0].shape == (120, 160, 3)
    assert min(psnr(f, g) for f, g in zip(frames, upright)) > 30
    # turned the wrong way the picture would not match
    assert psnr(np.ascontiguousarray(np.rot90(frames[0], 2)), upright[0]) < 20


def test_colour_matrix_and_range_are_kept_and_tagged(tmp_path):
    chart = np.zeros((64, 96, 3), np.uint8)  # saturated blocks, where BT.601 and BT.709 differ most
    for i, colour in enumerate([(0, 0, 230), (0, 230, 0), (230, 0, 0), (0, 200, 230), (230, 0, 200), (200, 200, 0)]):
        chart[:, 16 * i:16 * (i + 1)] = colour
    bt709 = ColorTags(colorspace=1, color_range=1, color_primaries=1, color_trc=1)
    src = write_clip(tmp_path / 'hd.mp4', [chart] * 3, audio=None, color=bt709)
    assert probe(src).color == bt709
    out = tmp_path / 'hd_out.mp4'
    copy_video(src, out)
    assert probe(out).color == bt709

    def error(image):
        return np.abs(image[8:-8, 4:-4].astype(int) - chart[8:-8, 4:-4]).mean()

    with VideoReader(out) as reader:
        assert max(error(f.image) for f in reader) < 4
    with av.open(str(out)) as container:  # read with the other matrix, the colours are off: the tags matter
        wrong = next(container.decode(video=0)).to_ndarray(format='bgr24', src_colorspace='itu601')
    assert error(wrong) > 8
    assert probe(write_clip(tmp_path / 'plain.mp4', [chart] * 2, audio=None)).color.colorspace == 2
    # an RGB source's matrix (0) is not stamped on YUV output
    rgb = ColorTags(colorspace=0, color_range=2, color_primaries=1, color_trc=13)
    info = dataclasses.replace(probe(src), color=rgb, path=None)
    with VideoWriter(tmp_path / 'from_rgb.mp4', info, 96, 64) as writer:
        writer.write(chart)
    assert probe(tmp_path / 'from_rgb.mp4').color == ColorTags(2, 2, 1, 13)
    with VideoReader(tmp_path / 'from_rgb.mp4') as reader:
        assert error(next(iter(reader)).image) < 4


def test_matroska_with_pcm_audio_and_subrip(tmp_path, small_clip):
    src = write_clip(tmp_path / 'in.mkv', small_clip.frames[:10], audio='pcm', subtitles=SUBTITLES)
    out = tmp_path / 'out.mkv'
    copy_video(src, out, codec='ffv1')
    b = probe(out)
    assert (b.codec, b.audio_streams, b.subtitle_streams) == ('ffv1', 1, 1)
    assert (b.frame_count, b.estimated_frames, b.duration) == (None, 10, 0.4)  # Matroska: count unknown, length tag
    assert stream_packets(out, 'audio') == stream_packets(src, 'audio')
    assert stream_packets(out, 'subtitle') == stream_packets(src, 'subtitle')
    assert video_pts(out) == video_pts(src) == [40 * i for i in range(10)]
    with VideoReader(src) as reader_in, VideoReader(out) as reader_out:
        for f, g in zip(reader_in, reader_out):
            np.testing.assert_array_equal(f.image, g.image)  # ffv1 on BGR is lossless


def test_a_stream_the_container_cannot_hold_is_left_out_with_a_warning(tmp_path, small_clip, caplog):
    src = write_clip(tmp_path / 'in.mp4', small_clip.frames[:6], subtitles=SUBTITLES)  # mov_text subtitles
    with caplog.at_level(logging.WARNING, logger='gfpgan'):
        writer = copy_video(src, tmp_path / 'out.avi')
    assert len(writer.dropped_streams) == 1 and 'subtitle' in writer.dropped_streams[0]
    assert 'subtitle' in caplog.text and '.mkv' in caplog.text
    assert probe(tmp_path / 'out.avi').audio_streams == 1
    # AVI has no negative timestamps (AAC's priming samples start before 0): the same bytes, shifted
    assert [p[3] for p in stream_packets(tmp_path / 'out.avi', 'audio')] == [p[3] for p in stream_packets(src, 'audio')]
    # MOV accepts Opus by codec list but refuses it when writing its header: found before writing, left out too
    webm = write_clip(tmp_path / 'in.webm', small_clip.frames[:4], subtitles=SUBTITLES)
    writer = copy_video(webm, tmp_path / 'out.mov')
    assert [d.split(' (')[0] for d in writer.dropped_streams] == ['its audio stream #1', 'its subtitle stream #2']
    assert probe(tmp_path / 'out.mov').frame_count == 4


def test_auto_codec_falls_back_to_mpeg4_without_h264(tmp_path, small_clip, monkeypatch, caplog):
    without = {k: v for k, v in available_video_codecs().items() if k != 'h264'}
    monkeypatch.setattr(codecs, 'available_video_codecs', lambda: without)
    with caplog.at_level(logging.WARNING, logger='gfpgan'):
        path = write_clip(tmp_path / 'fallback.mp4', small_clip.frames[:5], audio=None)
    assert probe(path).codec == 'mpeg4' and video_pts(path) == [3600 * i for i in range(5)]  # 1/90000 kept
    assert 'no H.264 encoder' in caplog.text and 'MPEG-4' in caplog.text
    with pytest.raises(VideoError, match=r"'h264' is not available .* choose one of .*mpeg4"):
        write_clip(tmp_path / 'x.mp4', small_clip.frames[:2], audio=None, codec='h264')


def test_unknown_or_misplaced_codec_is_one_sentence(tmp_path, small_clip):
    with pytest.raises(VideoError, match=r"Unknown video codec 'prores-ultra' .* choose one of auto, h264"):
        write_clip(tmp_path / 'x.mp4', small_clip.frames[:2], audio=None, codec='prores-ultra')
    with pytest.raises(VideoError, match=r'\.webm file holds VP9 video only'):
        write_clip(tmp_path / 'x.webm', small_clip.frames[:2], audio=None, codec='h264')
    with pytest.raises(VideoError, match=r'extension \.gif is not one of'):
        write_clip(tmp_path / 'x.gif', small_clip.frames[:2], audio=None)
    with pytest.raises(VideoError, match='even width and height'):
        write_clip(tmp_path / 'odd.mp4', [f[:, :-1] for f in small_clip.frames[:2]], audio=None)
    assert sorted(os.listdir(tmp_path)) == []
    assert issubclass(VideoError, GFPGANError)


def test_not_a_video_is_one_sentence(tmp_path):
    text = tmp_path / 'notes.mp4'
    text.write_text('this is not a video\n' * 20)
    with pytest.raises(VideoError, match=r"'.*notes\.mp4' is not a video FFmpeg can read") as err:
        probe(text)
    assert '\n' not in str(err.value)
    with pytest.raises(VideoError, match='is empty'):
        (tmp_path / 'empty.mkv').write_bytes(b'')
        VideoReader(tmp_path / 'empty.mkv')
    with pytest.raises(VideoError, match='does not exist'):
        probe(tmp_path / 'missing.mp4')


def test_no_video_stream_and_zero_frames(tmp_path, small_clip):
    write_clip(tmp_path / 'tone.mkv', small_clip.frames[:3])
    audio_only = tmp_path / 'audio_only.mkv'
    with av.open(str(tmp_path / 'tone.mkv')) as src, av.open(str(audio_only), 'w') as dst:
        stream = dst.add_stream_from_template(src.streams.audio[0], opaque=True)
        for packet in src.demux(src.streams.audio[0]):
            if packet.size:
                packet.stream = stream
                dst.mux(packet)
    with pytest.raises(VideoError, match=r'has no video stream \(it holds audio\)'):
        probe(audio_only)
    empty = tmp_path / 'zero.mkv'  # a video stream without packets beside a sound track
    with av.open(str(tmp_path / 'tone.mkv')) as src, av.open(str(empty), 'w') as dst:
        video = dst.add_stream('mpeg4', rate=25)
        video.width, video.height, video.pix_fmt = 64, 48, 'yuv420p'
        stream = dst.add_stream_from_template(src.streams.audio[0], opaque=True)
        for packet in src.demux(src.streams.audio[0]):
            if packet.size:
                packet.stream = stream
                dst.mux(packet)
    with pytest.raises(VideoError, match="has a video stream but no frames"):
        probe(empty)


def test_undecodable_codec_is_one_sentence(tmp_path):
    path = tmp_path / 'avs3.mkv'
    try:
        with av.open(str(path), 'w') as container:
            stream = container.add_mux_stream('avs3', width=64, height=48, time_base=Fraction(1, 1000))
            for i in range(3):
                packet = av.Packet(b'\x00\x00\x01' + bytes(40))
                packet.stream, packet.pts, packet.dts, packet.time_base = stream, 40 * i, 40 * i, Fraction(1, 1000)
                container.mux(packet)
        with av.open(str(path)) as container:
            decodable = container.streams.video[0].codec_context is not None
    except (ValueError, av.FFmpegError):
        pytest.skip('this FFmpeg build cannot mux AVS3 into Matroska')
    if decodable:
        pytest.skip('this FFmpeg build decodes AVS3')
    with pytest.raises(VideoError, match='video codec of .* is not supported by this FFmpeg build'):
        probe(path)


def test_truncated_file_ends_early_without_a_crash(tmp_path, small_clip, caplog):
    src = write_clip(tmp_path / 'full.mkv', small_clip.frames, audio=None)
    data = open(src, 'rb').read()
    cut = tmp_path / 'cut.mkv'
    cut.write_bytes(data[:len(data) * 6 // 10])
    with caplog.at_level(logging.WARNING, logger='gfpgan'), VideoReader(cut) as reader:
        frames = list(reader)
    assert 0 < len(frames) < 24 and reader.frames_read == len(frames)
    assert reader.errors >= 1 and 'damaged or truncated' in caplog.text
    # an MP4 cut before its index (written last) cannot be opened at all: one sentence
    mp4 = write_clip(tmp_path / 'full.mp4', small_clip.frames, audio=None)
    data = open(mp4, 'rb').read()
    (tmp_path / 'cut.mp4').write_bytes(data[:len(data) // 2])
    with pytest.raises(VideoError, match='truncated, damaged or not a video'):
        probe(tmp_path / 'cut.mp4')


def test_an_exception_inside_the_writer_leaves_nothing(tmp_path, small_clip):
    src = write_clip(tmp_path / 'in.mp4', small_clip.frames[:6])
    info = probe(src)
    before = sorted(os.listdir(tmp_path))
    out = tmp_path / 'out.mp4'
    with pytest.raises(RuntimeError, match='stop'):
        with VideoWriter(out, info, info.width, info.height) as writer:
            writer.write(small_clip.frames[0])
            writer.write(small_clip.frames[1])
            temporaries = [name for name in os.listdir(tmp_path) if name.startswith('.out.mp4.')]
            assert len(temporaries) == 1 and is_temporary_name(temporaries[0])  # remove_stale_temporaries knows it
            raise RuntimeError('stop')
    assert sorted(os.listdir(tmp_path)) == before
    # an existing file under the final name is untouched by a failed write
    out.write_bytes(b'previous result')
    with pytest.raises(ValueError, match='must be'):
        with VideoWriter(out, info, info.width, info.height) as writer:
            writer.write(np.zeros((10, 10, 3), np.uint8))
    assert out.read_bytes() == b'previous result' and sorted(os.listdir(tmp_path)) == sorted(before + ['out.mp4'])


def test_container_and_stream_tags_are_kept(tmp_path, small_clip):
    plain = write_clip(tmp_path / 'plain.mkv', small_clip.frames[:5], subtitles=[(0, 0.1, 'hi')])
    src = tmp_path / 'tagged.mkv'
    with av.open(plain) as original, av.open(str(src), 'w') as tagged:
        tagged.metadata.update({'title': 'Holiday 1987', 'creation_time': '1987-07-01T12:00:00.000000Z'})
        streams = {}
        for stream, language in zip(original.streams, ('eng', 'fra', 'deu')):
            streams[stream.index] = tagged.add_stream_from_template(stream, opaque=True)
            streams[stream.index].metadata['language'] = language
        for packet in original.demux():
            if packet.size:
                packet.stream = streams[packet.stream.index]
                tagged.mux(packet)
    out = tmp_path / 'out.mkv'
    copy_video(src, out)
    with av.open(str(out)) as result:
        assert result.metadata['title'] == 'Holiday 1987' and result.metadata['creation_time'].startswith('1987-07-01')
        assert [s.metadata.get('language') for s in result.streams] == ['eng', 'fra', 'deu']
        assert [s.type for s in result.streams] == ['video', 'audio', 'subtitle']
    with pytest.raises(VideoError, match='is the input video itself'):
        copy_video(out, out)


KILLED_WRITER = """
import sys, time
import numpy as np
from gfpgan.video.io import VideoWriter, probe
info = probe(sys.argv[1])
with VideoWriter(sys.argv[2], info, info.width, info.height) as writer:
    for i in range(10000):
        writer.write(np.full((info.height, info.width, 3), i % 255, np.uint8))
        if i == 60:
            print('writing', flush=True)
        time.sleep(0.01)
"""


def test_a_killed_writer_leaves_only_a_recognisable_temporary(tmp_path, small_clip):
    src = write_clip(tmp_path / 'in.mp4', small_clip.frames[:3], audio=None)
    out = tmp_path / 'out.mp4'
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    child = subprocess.Popen([sys.executable, '-c', KILLED_WRITER, src, str(out)], cwd=root, stdout=subprocess.PIPE,
                             env={**os.environ, 'PYTHONPATH': root})
    try:
        assert child.stdout.readline().strip() == b'writing'
        child.kill()
    finally:
        child.wait(timeout=60)
    assert not out.exists()
    leftovers = [name for name in os.listdir(tmp_path) if name.startswith('.out.mp4.')]
    assert len(leftovers) == 1 and os.path.getsize(tmp_path / leftovers[0]) > 0
    assert is_video_temporary(leftovers[0])
    os.utime(tmp_path / leftovers[0], (time.time() - STALE_AFTER_S + 60, ) * 2)
    assert remove_stale_video_temporaries(tmp_path) == []  # under an hour old: it may be a live writer's
    os.utime(tmp_path / leftovers[0], (time.time() - STALE_AFTER_S - 1, ) * 2)
    assert [os.path.basename(p) for p, _ in remove_stale_video_temporaries(tmp_path)] == leftovers
    assert sorted(os.listdir(tmp_path)) == ['in.mp4']
    assert not is_video_temporary('.out.mp4.0123abcd.tmp') and not is_video_temporary('out.mp4.video.0123abcd.tmp')
    assert is_temporary_name(leftovers[0])  # (and the generic sweep recognises it too)
    assert remove_stale_temporaries(tmp_path, min_age_s=0) == (0, 0)


def test_writer_checks_timestamps_and_needs_a_frame(tmp_path, small_clip):
    src = write_clip(tmp_path / 'in.mkv', small_clip.frames[:4], audio=None)
    info = probe(src)
    with pytest.raises(ValueError, match='timestamps must increase'):
        with VideoWriter(tmp_path / 'o.mkv', info, 160, 120) as writer:
            writer.write(VideoFrame(0, small_clip.frames[0], pts=80, time=0.08))
            writer.write(small_clip.frames[1], pts=40)
    with pytest.raises(VideoError, match='No frames were written'):
        with VideoWriter(tmp_path / 'o.mkv', info, 160, 120):
            pass
    assert not (tmp_path / 'o.mkv').exists()


def test_reader_holds_only_a_few_frames_ahead(tmp_path, small_clip):
    src = write_clip(tmp_path / 'in.mkv', small_clip.frames, audio=None)
    with VideoReader(src) as reader:
        frames = iter(reader)
        first = next(frames)
        time.sleep(0.5)  # the decode thread runs ahead until its queue is full, then waits
        alive = sum(type(obj) is VideoFrame for obj in gc.get_objects())
        assert alive <= 7 and first.index == 0  # 24 frames in the file; the queue holds 4, plus the one in hand
        assert sum(1 for _ in frames) == 23


def test_reader_can_stop_early_and_read_again(tmp_path, small_clip):
    src = write_clip(tmp_path / 'in.mp4', small_clip.frames, audio=None)
    reader = VideoReader(src)
    for frame in reader:
        if frame.index == 2:
            break
    assert reader._thread is None  # the decode thread was stopped and joined
    assert len(list(reader)) == 24 == len(reader)
    reader.close()


def test_video_inputs_are_told_by_extension_else_by_opening(tmp_path, small_clip):
    import cv2
    from gfpgan.video.io import is_video_input
    clip = open(write_clip(tmp_path / 'c.mkv', small_clip.frames[:3], audio=None), 'rb').read()
    for name in ('a.vob', 'a.y4m', 'a.divx', 'a.png'):
        (tmp_path / name).write_bytes(clip)
    cv2.imwrite(str(tmp_path / 'still.png'), small_clip.frames[0])
    (tmp_path / 'still.foo').write_bytes((tmp_path / 'still.png').read_bytes())  # FFmpeg reads a PNG too
    (tmp_path / 'notes.dat').write_text('not a video')
    assert [is_video_input(tmp_path / n) for n in ('a.vob', 'a.y4m', 'a.divx', 'c.mkv')] == [True] * 4
    assert not any(is_video_input(tmp_path / n) for n in ('a.png', 'still.foo', 'notes.dat', 'missing.xyz'))


@pytest.mark.parametrize('code', [errno.EIO, errno.ENOSPC])
def test_errors_finishing_the_file_are_one_sentence_or_fatal(tmp_path, small_clip, code):
    """A failure of the encoder flush / container close is a VideoError, or an OSError naming the output when the
    disk is full; the temporaries are removed either way."""
    from gfpgan.errors import is_fatal_os_error
    src = write_clip(tmp_path / 'in.mkv', small_clip.frames[:3], audio=None)
    out = tmp_path / 'out.mkv'

    class FailingClose:
        def __init__(self, container):
            self.container = container

        def __getattr__(self, name):
            return getattr(self.container, name)

        def close(self):
            self.container.close()
            raise av.error.OSError(code, os.strerror(code))

    with pytest.raises((VideoError, OSError)) as caught:
        with VideoReader(src) as reader, VideoWriter(out, reader.info, reader.info.width, reader.info.height) as w:
            for frame in reader:
                w.write(frame)
            w._container = FailingClose(w._container)
    if code == errno.ENOSPC:
        assert is_fatal_os_error(caught.value) and caught.value.filename == str(out)
        assert not isinstance(caught.value, VideoError)
    else:
        assert isinstance(caught.value, VideoError) and 'out.mkv' in str(caught.value)
    assert sorted(os.listdir(tmp_path)) == ['in.mkv']


def test_crf_is_checked_against_the_codec_range(tmp_path, small_clip):
    assert codecs.crf_problem(codecs.VIDEO_CODECS['h264'], 51) is None
    assert 'h264 takes 0..51' in codecs.crf_problem(codecs.VIDEO_CODECS['h264'], 52)
    assert codecs.crf_problem(codecs.VIDEO_CODECS['vp9'], 63) is None
    assert 'vp9 takes 0..63' in codecs.crf_problem(codecs.VIDEO_CODECS['vp9'], 64)
    assert 'lossless' in codecs.crf_problem(codecs.VIDEO_CODECS['ffv1'], 64)
    info = probe(write_clip(tmp_path / 'in.mp4', small_clip.frames[:1], audio=None))
    with pytest.raises(ValueError, match=r'hevc takes 0\.\.51'):
        VideoWriter(tmp_path / 'out.mp4', info, info.width, info.height, codec='hevc', crf=55)
    assert sorted(os.listdir(tmp_path)) == ['in.mp4']
