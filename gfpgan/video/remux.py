"""Put a freshly encoded video stream together with a source file's audio and subtitle streams, copying their
packets unchanged (no decoding, no re-encoding), interleaved by time as a player reads them. Streaming: one packet
of each file is held at a time."""
import array
import bisect
import heapq
import io
import itertools

from .codecs import av_errors, ffmpeg_failure, ffmpeg_reason, import_av, main_video_stream, stream_end

__all__ = ['remux', 'COPIED_STREAM_TYPES']

COPIED_STREAM_TYPES = ('audio', 'subtitle')
# container tags the muxer writes itself; copying the source's would describe the source's encoder, not ours
_EMPTY_MOV_TEXT = b'\x00\x00'  # an MP4 text sample of no characters
_OWN_TAGS = ('major_brand', 'minor_version', 'compatible_brands', 'encoder', 'ENCODER', 'DURATION', 'duration')


def _frame_durations(path, end_time=None):
    """(sorted presentation timestamps, end timestamp or None) of the video in ``path``: each frame lasts until the
    next one, the last until ``end_time`` (s) or the stream's end. A demuxer reports durations in decode order, which
    B-frames shuffle, so copying its durations would change how long the last frame (and the video) lasts. 8 bytes a
    frame."""
    av = import_av()
    with av.open(path) as container:
        stream = container.streams.video[0]
        stamps = array.array('q', sorted(p.pts for p in container.demux(stream) if p.pts is not None))
        end = round(end_time / stream.time_base) if end_time is not None else stream_end(stream)
    return stamps, end


def _with_frame_duration(packet, stamps, end):
    """Set ``packet``'s duration to the gap to the next frame in presentation order (the last: to ``end``)."""
    if packet.pts is None:
        return packet
    i = bisect.bisect_left(stamps, packet.pts)
    following = stamps[i + 1] if i + 1 < len(stamps) else end
    if following is not None and following > packet.pts:
        packet.duration = following - packet.pts
    return packet


def _timed_packets(container, streams, order, errors, problems):
    """(time in seconds as a Fraction, order, n, packet) for each packet of ``streams``; a read error (a damaged
    or truncated source) ends the sequence and is noted in ``problems``."""
    packets = container.demux(streams)
    for n in itertools.count():
        try:
            packet = next(packets)
        except StopIteration:
            return
        except errors as err:
            problems.append(f'copying the audio/subtitles stopped early, the source is damaged ({err})')
            return
        stamp = packet.dts if packet.dts is not None else packet.pts
        if stamp is None:  # the demuxer's end-of-stream marker
            continue
        if packet.stream.type == 'subtitle' and bytes(packet) == _EMPTY_MOV_TEXT:
            continue  # a gap between cues, which the MP4 muxer fills in again itself
        yield stamp * packet.time_base, order, n, packet


def _copy_tags(source, target):
    for key, value in source.items():
        if key not in _OWN_TAGS:
            target[key] = value


def _refusal(fmt, stream, errors):
    """Why the muxer ``fmt`` cannot hold a copy of ``stream`` (its header is tried in memory), or None."""
    av = import_av()
    try:
        with av.open(io.BytesIO(), 'w', format=fmt) as probe_out:
            probe_out.add_stream_from_template(stream, opaque=True)
            probe_out.start_encoding()
    except (ValueError, ) + errors as err:
        return ffmpeg_reason(err)
    return None


def remux(video_path, source_path, out_path, fmt, muxer_options, name=None, end_time=None):
    """Write ``out_path`` (muxer ``fmt``): the video stream of ``video_path`` and the audio and subtitle streams of
    ``source_path``, packets copied unchanged, with the source's container and stream tags (title, language, ...).
    ``muxer_options(fmt, time_bases)`` gives the muxer's options; ``name`` is the file named in messages (default
    ``out_path``); ``end_time``: where the video ends in seconds (a Fraction; default: what its file says). Returns
    one sentence per source stream that the container cannot hold and that was left out, or that stopped early."""
    av = import_av()
    errors = av_errors(av)
    name = name or out_path
    problems = []
    stamps, end = _frame_durations(video_path, end_time)
    with av.open(video_path) as video_in, av.open(source_path, metadata_errors='replace') as source_in:
        video = video_in.streams.video[0]
        copied = []
        for stream in source_in.streams:
            if stream.type not in COPIED_STREAM_TYPES:
                continue
            refusal = _refusal(fmt, stream, errors)
            if refusal is None:
                copied.append(stream)
            else:
                codec = stream.codec_context.name if stream.codec_context is not None else 'unknown codec'
                problems.append(f'its {stream.type} stream #{stream.index} ({codec}) cannot be stored in {fmt} output '
                                f'and was left out ({refusal}); write a .mkv to keep it')
        time_bases = [video.time_base] + [s.time_base for s in copied]
        try:
            with av.open(out_path, 'w', format=fmt, options=muxer_options(fmt, time_bases)) as out:
                _copy_tags(source_in.metadata, out.metadata)
                out_video = out.add_stream_from_template(video, opaque=True)
                source_video = main_video_stream(source_in)
                if source_video is not None:
                    _copy_tags(source_video.metadata, out_video.metadata)
                targets = {}
                for stream in copied:
                    targets[stream.index] = out.add_stream_from_template(stream, opaque=True)
                    _copy_tags(stream.metadata, targets[stream.index].metadata)
                    targets[stream.index].disposition = stream.disposition
                sequences = [_timed_packets(video_in, [video], 0, errors, problems)]
                if copied:
                    sequences.append(_timed_packets(source_in, copied, 1, errors, problems))
                for _, order, _, packet in heapq.merge(*sequences):
                    if order == 0:
                        packet = _with_frame_duration(packet, stamps, end)
                    packet.stream = out_video if order == 0 else targets[packet.stream.index]
                    out.mux(packet)
        except errors as err:
            raise ffmpeg_failure(err, name, f"Cannot write the video '{name}'") from err
    return problems
