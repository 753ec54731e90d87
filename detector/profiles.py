"""The re-encodes the project applies, defined once: platform-style profiles.

:mod:`detector.degrade` writes copies with them (training and the generalisation table);
:mod:`detector.card` reads which codec a condition of a card's table stands for.  No heavy
import here: ``inspect`` reads it.
"""

from __future__ import annotations

from typing import NamedTuple


class Profile(NamedTuple):
    """A platform-style re-encode: ``codec``'s constant-quality setting ``crf`` (x264: 0-51,
    23 its default; libvpx-vp9 and SVT-AV1: 0-63) after scaling width and height by ``scale``."""

    crf: int
    scale: float = 1.0
    codec: str = "libx264"


#: Every re-encode the project applies: name -> profile.
PROFILES: dict[str, Profile] = {
    "crf23": Profile(23),  # a light, YouTube-like H.264 re-encode
    "crf28": Profile(28),
    "crf35": Profile(35),
    "half": Profile(23, 0.5),  # half width and height, then H.264 CRF 23
    "vp9": Profile(34, 1.0, "libvpx-vp9"),  # VP9 as platforms serve it (constant quality 34)
    "crf32": Profile(32),  # a strong H.264 re-encode (messengers)
    "q540": Profile(26, 0.75),  # 720p -> 540p, then H.264 CRF 26
    "av1": Profile(38, 1.0, "libsvtav1"),  # AV1 (SVT-AV1 constant quality 38)
}
#: The platform profiles: what the generalisation table applies to test-fold videos, and
#: what ``train --augment`` adds to the training parts.
PLATFORM_PROFILES: dict[str, Profile] = {k: PROFILES[k] for k in ("crf23", "crf28", "half", "vp9")}
#: The names FFmpeg's decoders give (:attr:`detector.video.VideoInfo.codec`) to the files each
#: encoder of :data:`PROFILES` writes.
DECODED_AS: dict[str, tuple[str, ...]] = {"libx264": ("h264",), "libvpx-vp9": ("vp9", "libvpx-vp9"),
                                          "libsvtav1": ("av1", "libdav1d", "libaom-av1")}
#: The codec each encoder of :data:`PROFILES` writes, for people.
CODEC_NAMES: dict[str, str] = {"libx264": "H.264", "libvpx-vp9": "VP9", "libsvtav1": "AV1"}

#: Other codecs' decoder names, for people (phones record HEVC).
OTHER_CODEC_NAMES: dict[str, str] = {"hevc": "HEVC (H.265)", "mpeg4": "MPEG-4 Part 2", "vp8": "VP8",
                                     "mjpeg": "Motion JPEG", "prores": "ProRes", "gif": "GIF",
                                     "mpeg2video": "MPEG-2", "h263": "H.263", "theora": "Theora",
                                     "vc1": "VC-1", "wmv3": "WMV 9", "rawvideo": "uncompressed video"}


def codec_name(decoder: str | None) -> str | None:
    """The codec, for people, of a file decoded by ``decoder`` (:attr:`detector.video.VideoInfo.codec`):
    ``"libdav1d"`` -> ``"AV1"``, ``"hevc"`` -> ``"HEVC (H.265)"``; else ``decoder`` itself.

    >>> codec_name("libdav1d"), codec_name("hevc"), codec_name("cinepak")
    ('AV1', 'HEVC (H.265)', 'cinepak')
    """
    return next((CODEC_NAMES[e] for e, names in DECODED_AS.items() if decoder in names),
                OTHER_CODEC_NAMES.get(decoder or "", decoder))


def decoded_as(condition: str) -> tuple[str, ...]:
    """The decoder names of the files of re-encode ``condition`` (() when it is not one).

    >>> decoded_as("av1")
    ('av1', 'libdav1d', 'libaom-av1')
    """
    p = PROFILES.get(condition)
    return DECODED_AS.get(p.codec, (p.codec,)) if p is not None else ()
