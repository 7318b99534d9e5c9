"""Video: reading and writing through PyAV with timing, rotation, audio and subtitles kept (``io``), face tracking
and temporal smoothing for a flicker-free restoration (``tracking``, ``smoothing``, ``pipeline``), and synthetic clips
for tests and benchmarks (``synthetic``).

Nothing is imported here: PyAV is an optional package (the ``video`` extra), so import what you need from its module,
e.g. ``from gfpgan.video.io import VideoReader, VideoWriter``.
"""
