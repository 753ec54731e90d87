"""Bad inputs for the fuzz benchmark, made here: broken videos and images, odd file names,
special files, and crafted model folders.

Nothing is downloaded: the good sources are the synthetic demo clips
(:func:`detector.synthesis.make_demo_pair`) and scikit-image's images.  Every generator
is deterministic (seeded).  :func:`make_corpus` writes ``DIR/inputs/<kind>/...`` and
returns ``[(kind, path)]``; :func:`make_model_folders` writes ``DIR/models/<kind>/`` and
returns ``[(kind, folder)]``.  ``quick=True`` makes a small subset of every kind (for
the tests).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import struct
import zipfile
import zlib
from pathlib import Path

import av
import cv2
import numpy as np
import skops.io as sio
from skimage import data
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from detector.encode import write_video
from detector.model import DEFAULT_MODEL_DIR, DetectorModel, save_model
from detector.synthesis import make_demo_pair
from detector.video import sha256_file

#: The file that a crafted model writes when its code runs: proof of execution.
PWNED = "PWNED"


# ----------------------------------------------------------------- good sources
def _sources(out: Path) -> dict[str, Path]:
    """Good files every bad one is made from: demo clips in several containers, images, a
    face-less clip."""
    src = out / "valid"
    src.mkdir(parents=True, exist_ok=True)
    made = make_demo_pair(src, n_frames=24)
    real, fake = (Path(m).rename(src / n) for m, n in zip(made, ("real.mp4", "fake.mp4")))
    frames = [cv2.resize(data.coffee()[:, :, ::-1], (320, 240)) for _ in range(12)]
    files = {"real.mp4": real, "fake.mp4": fake,
             "noface.mp4": write_video(frames, src / "noface.mp4"),
             "real.mkv": _remux(real, src / "real.mkv"),
             "real.avi": encode(src / "real.avi", decode_all(real), codec="mjpeg"),
             "astronaut.png": src / "astronaut.png", "astronaut.jpg": src / "astronaut.jpg"}
    cv2.imwrite(str(files["astronaut.png"]), data.astronaut()[:, :, ::-1])
    cv2.imwrite(str(files["astronaut.jpg"]), data.astronaut()[:, :, ::-1])
    return {k: Path(v) for k, v in files.items()}


def decode_all(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as c:
        return [f.to_ndarray(format="bgr24") for f in c.decode(video=0)]


def _remux(src: Path, dst: Path) -> Path:
    with av.open(str(src)) as i, av.open(str(dst), "w") as o:
        s = o.add_stream_from_template(i.streams.video[0])
        for pkt in i.demux(i.streams.video[0]):
            if pkt.dts is not None:
                pkt.stream = s
                o.mux(pkt)
    return dst


def encode(path: Path, frames, codec: str = "libx264", rate: int = 25, gap_at: int | None = None,
            gap: int = 0) -> Path:
    """Frames (BGR arrays) into ``path``; ``gap`` frame durations skipped before frame ``gap_at``."""
    with av.open(str(path), "w") as c:
        s = c.add_stream(codec, rate=rate)
        first = frames[0]
        s.width, s.height = first.shape[1], first.shape[0]
        s.pix_fmt = "yuvj420p" if codec == "mjpeg" else "yuv420p"
        if codec == "libx264":
            s.options = {"preset": "ultrafast"}
        for i, img in enumerate(frames):
            vf = av.VideoFrame.from_ndarray(img, format="bgr24")
            vf.pts = i + (gap if gap_at is not None and i >= gap_at else 0)
            for p in s.encode(vf):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    return path


# ----------------------------------------------------------------- bad inputs
EXTS = (".mp4", ".avi", ".mkv", ".mov", ".webm", ".png", ".jpg", ".bmp")


def _write(path: Path, data_: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data_)
    return path


def _empty(out: Path, src, rng, quick) -> list[Path]:
    return [_write(out / f"empty{e}", b"") for e in (EXTS[:2] + EXTS[5:6] if quick else EXTS)]


def _random(out: Path, src, rng, quick) -> list[Path]:
    sizes = (100, 70_000) if quick else (1, 100, 10_000, 1_000_000)
    exts = (".mp4", ".png") if quick else (".mp4", ".avi", ".mkv", ".png", ".jpg")
    return [_write(out / f"random_{n}{e}", rng.bytes(n)) for n in sizes for e in exts]


def _renamed(out: Path, src, rng, quick) -> list[Path]:
    pairs = [("real.mp4", ".png"), ("real.mp4", ".jpg"), ("astronaut.png", ".mp4"), ("astronaut.jpg", ".avi")]
    if not quick:
        pairs += [("real.mp4", ".avi"), ("real.mp4", ".mkv"), ("real.mkv", ".mp4"), ("real.avi", ".webm"),
                  ("astronaut.png", ".jpg"), ("astronaut.jpg", ".png")]
    files = [_write(out / f"{a.replace('.', '_')}_as{e}", src[a].read_bytes()) for a, e in pairs]
    texts = {"text.mp4": b"hello, this is not a video\n" * 40, "html.mp4": b"<html><body>no</body></html>",
             "gzip.png": zlib.compress(b"x" * 10000), "pdf.avi": b"%PDF-1.4\n%\xe2\xe3\n" + rng.bytes(500)}
    for name, b in list(texts.items())[: 1 if quick else None]:
        files.append(_write(out / name, b))
    return files


def _offsets(size: int, n: int) -> list[int]:
    """``n`` distinct truncation points, dense near the start (headers) and spread after."""
    head = np.unique(np.geomspace(8, max(9, size // 8), n // 2).astype(int))
    tail = np.unique(np.linspace(size // 8, size - 1, n - len(head) + 2).astype(int))[1:-1]
    return sorted(set(head.tolist()) | set(tail.tolist()))[:n]


def _truncated(out: Path, src, rng, quick) -> list[Path]:
    files = []
    bases = ("real.mp4", "astronaut.png") if quick else ("real.mp4", "fake.mp4", "real.mkv", "real.avi",
                                                       "astronaut.png", "astronaut.jpg")
    for b in bases:
        raw = src[b].read_bytes()
        for off in _offsets(len(raw), 3 if quick else 40):
            files.append(_write(out / f"{b.replace('.', '_')}_cut{off}{Path(b).suffix}", raw[:off]))
    return files


def _bitflip(out: Path, src, rng, quick) -> list[Path]:
    files = []
    bases = ("real.mp4",) if quick else ("real.mp4", "fake.mp4", "real.mkv", "real.avi", "astronaut.png",
                                         "astronaut.jpg")
    for b in bases:
        raw = src[b].read_bytes()
        for k in range(2 if quick else 15):
            buf = bytearray(raw)
            n_flips = (1, 10, 100)[k % 3]
            for pos in rng.integers(0, len(buf), n_flips):
                buf[pos] ^= int(rng.integers(1, 256))
            files.append(_write(out / f"{b.replace('.', '_')}_flip{k}{Path(b).suffix}", bytes(buf)))
    return files


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width`` x ``height`` with a tiny, short IDAT."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", zlib.compress(b"\x00" * 64))
            + _png_chunk(b"IEND", b""))


def png_bomb(side: int) -> bytes:
    """A real ``side`` x ``side`` grey PNG of zeros: a few hundred KB that decode to side**2 bytes."""
    z = zlib.compressobj(9)
    row = b"\x00" * (side + 1)
    body = b"".join(z.compress(row) for _ in range(side)) + z.flush()
    ihdr = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", body) + _png_chunk(b"IEND", b"")


def avi_absurd_length(src: Path) -> bytes:
    """The AVI with its frame counts (``avih.dwTotalFrames``, ``strh.dwLength``) set to 10**9."""
    buf = bytearray(src.read_bytes())
    i = buf.find(b"avih")
    if i >= 0:
        struct.pack_into("<I", buf, i + 8 + 16, 10**9)
    j = buf.find(b"strh")
    if j >= 0:
        struct.pack_into("<I", buf, j + 8 + 32, 10**9)
    return bytes(buf)


def _headers(out: Path, src, rng, quick) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    files = [_write(out / "png_70000x70000_header.png", png_header_only(70000, 70000))]
    if quick:
        return files
    files += [_write(out / "png_20000x20000_bomb.png", png_bomb(20000)),
              _write(out / "png_1x100000_header.png", png_header_only(1, 100000)),
              _write(out / "avi_absurd_length.avi", avi_absurd_length(src["real.avi"]))]
    jpg = bytearray(src["astronaut.jpg"].read_bytes())
    k = jpg.find(b"\xff\xc0")
    if k >= 0:
        struct.pack_into(">HH", jpg, k + 5, 65000, 65000)
        files.append(_write(out / "jpg_65000x65000_header.jpg", bytes(jpg)))
    bmp = bytearray(cv2.imencode(".bmp", np.zeros((8, 8, 3), np.uint8))[1].tobytes())
    struct.pack_into("<ii", bmp, 18, 60000, 60000)
    files.append(_write(out / "bmp_60000x60000_header.bmp", bytes(bmp)))
    clip = decode_all(src["real.mp4"])[:10]
    files.append(encode(out / "mkv_timestamp_gap.mkv", clip, gap_at=5, gap=10**7))
    return files


def _huge(out: Path, src, rng, quick) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    face = cv2.imread(str(src["astronaut.png"]))

    def frames(w: int, h: int, n: int = 3) -> list[np.ndarray]:
        big = cv2.resize(face, (w, h), interpolation=cv2.INTER_LINEAR)
        return [np.roll(big, 4 * i, axis=1) for i in range(n)]

    if quick:
        return [encode(out / "h264_4200x4200.mp4", frames(4200, 4200, 2))]
    files = [encode(out / "h264_4096x4096_at_limit.mp4", frames(4096, 4096)),
             encode(out / "h264_4200x4200.mp4", frames(4200, 4200)),
             encode(out / "h264_7680x4320_8k.mp4", frames(7680, 4320)),
             encode(out / "mjpeg_8192x8192.avi", frames(8192, 8192, 2), codec="mjpeg"),
             _write(out / "png_8000x8000.png", cv2.imencode(".png", cv2.resize(face, (8000, 8000)))[1].tobytes()),
             _write(out / "jpg_4096x4096_at_limit.jpg", cv2.imencode(".jpg", cv2.resize(face, (4096, 4096)))[1]
                    .tobytes())]
    return files


def _odd_names(out: Path, src, rng, quick) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    names = [os.fsdecode(b"latin1_caf\xe9_\xff\xfe.mp4"), "new\nline.mp4"]
    if not quick:
        names += ["-dash-first.mp4", "x" * 240 + ".mp4", "emoji_\U0001f600_\u00e9t\u00e9.mp4",
                  "sp ace 'quote\" $(x).mp4", "back\\slash.mp4", "..mp4", "UPPER.MP4", " leading space.mp4"]
    files = []
    for n in names:
        p = out / n
        shutil.copyfile(src["real.mp4"], p)
        files.append(p)
    return files


def _special(out: Path, src, rng, quick) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    fifo, sock = out / "fifo.mp4", out / "socket.mp4"
    os.mkfifo(fifo)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(str(sock))
    s.close()
    links = {"loop_a.mp4": "loop_b.mp4", "loop_b.mp4": "loop_a.mp4", "dev_zero.mp4": "/dev/zero",
             "dangling.mp4": "does-not-exist.mp4", "dev_null.png": "/dev/null"}
    files = [fifo, sock]
    for name, target in list(links.items())[: 3 if quick else None]:
        os.symlink(target, out / name)
        files.append(out / name)
    return files


def _streams(out: Path, src, rng, quick) -> list[Path]:
    """Odd but valid streams: one frame, tiny frames, audio only."""
    out.mkdir(parents=True, exist_ok=True)
    clip = decode_all(src["real.mp4"])
    files = [encode(out / "one_frame.mp4", clip[:1]),
             encode(out / "tiny_16x16.mp4", [cv2.resize(f, (16, 16)) for f in clip[:5]])]
    if quick:
        return files
    files.append(encode(out / "tiny_2x2.mp4", [cv2.resize(f, (2, 2)) for f in clip[:5]], codec="mjpeg"))
    audio = out / "audio_only.mp4"
    with av.open(str(audio), "w") as c:
        s = c.add_stream("aac", rate=16000)
        for i in range(20):
            fr = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
            fr.sample_rate, fr.pts = 16000, i * 1024
            for p in s.encode(fr):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    files.append(audio)
    return files


#: Kind of bad input -> its generator ``(out_dir, sources, rng, quick) -> [paths]``.
INPUT_KINDS = {"empty": _empty, "random": _random, "renamed": _renamed, "truncated": _truncated,
               "bitflip": _bitflip, "header": _headers, "huge": _huge, "odd_name": _odd_names,
               "special": _special, "stream": _streams}


def make_corpus(out: str | os.PathLike, quick: bool = False, seed: int = 0) -> list[tuple[str, Path]]:
    """Write every kind of bad input (plus the good sources, kind ``valid``) under ``out/inputs``."""
    root = Path(out) / "inputs"
    if root.exists():
        shutil.rmtree(root)
    rng = np.random.default_rng(seed)
    src = _sources(root)
    corpus = [("valid", p) for p in src.values()]
    for kind, make in INPUT_KINDS.items():
        corpus += [(kind, p) for p in make(root / kind, src, rng, quick)]
    return corpus


# ----------------------------------------------------------------- crafted models
def _schema(model_file: Path) -> tuple[dict, dict[str, bytes]]:
    with zipfile.ZipFile(model_file) as z:
        return json.loads(z.read("schema.json")), {n: z.read(n) for n in z.namelist() if n != "schema.json"}


def _write_schema(model_file: Path, schema: dict, others: dict[str, bytes]) -> None:
    with zipfile.ZipFile(model_file, "w") as z:
        z.writestr("schema.json", json.dumps(schema))
        for n, b in others.items():
            z.writestr(n, b)


def _str_node(v: str) -> dict:
    return {"__class__": "str", "__module__": "builtins", "__loader__": "JsonNode",
            "content": json.dumps(v), "is_json": True, "__id__": 0}


def _tuple_node(*items: dict) -> dict:
    return {"__class__": "tuple", "__module__": "builtins", "__loader__": "TupleNode", "content": list(items),
            "__id__": 0}


def _payload(marker: Path) -> str:
    return f"open({str(marker)!r}, 'w').write('code ran')"


def _inject(folder: Path, node: dict, fix_hash: bool = True) -> None:
    """Hide ``node`` in the pipeline's attributes (and, like an attacker, fix the card's hash)."""
    f = folder / "model.skops"
    schema, others = _schema(f)
    top = schema["content"]
    pipeline = top["pipeline"] if "pipeline" in top else schema  # format 2 bundle, or a bare pipeline
    pipeline["content"]["content"]["memory"] = node  # replaces an existing attribute: same key types
    _write_schema(f, schema, others)
    if fix_hash:
        _set_card(folder, model_sha256=sha256_file(f))


def _set_card(folder: Path, **fields) -> None:
    card = json.loads((folder / "card.json").read_text())
    for k, v in fields.items():
        if v is _DELETE:
            card.pop(k, None)
        else:
            card[k] = v
    (folder / "card.json").write_text(json.dumps(card))


_DELETE = object()


def _m_exec(f: Path) -> None:  # a constructor call of builtins.exec
    _inject(f, {"__class__": "exec", "__module__": "builtins", "__loader__": "ConstructorFromReduceNode",
                "content": _tuple_node(_str_node(_payload(f / PWNED))), "__id__": 0})


def _m_eval(f: Path) -> None:
    _inject(f, {"__class__": "eval", "__module__": "builtins", "__loader__": "ConstructorFromReduceNode",
                "content": _tuple_node(_str_node(_payload(f / PWNED))), "__id__": 0})


def _m_os_system(f: Path) -> None:
    _inject(f, {"__class__": "system", "__module__": "posix", "__loader__": "ConstructorFromReduceNode",
                "content": _tuple_node(_str_node(f"touch {f / PWNED}")), "__id__": 0})


def _m_function(f: Path) -> None:  # a bare function reference (callable smuggled as a value)
    _inject(f, {"__class__": "system", "__module__": "os", "__loader__": "FunctionNode", "content": None,
                "__id__": 0})


def _m_object(f: Path) -> None:  # an object of an arbitrary class
    _inject(f, {"__class__": "Popen", "__module__": "subprocess", "__loader__": "ObjectNode", "__id__": 0})


def _m_flipped_byte(f: Path) -> None:
    b = bytearray((f / "model.skops").read_bytes())
    b[len(b) // 2] ^= 0xFF
    (f / "model.skops").write_bytes(bytes(b))


def _m_not_zip(f: Path) -> None:
    (f / "model.skops").write_bytes(b"not a zip at all" * 100)
    _set_card(f, model_sha256=sha256_file(f / "model.skops"))


def _m_zip_bomb(f: Path) -> None:
    with zipfile.ZipFile(f / "model.skops", "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("schema.json", "{}")
        with z.open("big.npy", "w", force_zip64=True) as w:
            chunk = b"\x00" * (1 << 22)
            for _ in range(300):  # 1.2 GB of zeros, ~1.2 MB compressed
                w.write(chunk)
    _set_card(f, model_sha256=sha256_file(f / "model.skops"))


def _m_bare_pipeline(f: Path) -> None:  # format 1: columns and threshold only in the card
    x = np.random.default_rng(0).normal(size=(20, len(json.loads((f / "card.json").read_text())["columns"])))
    pipe = Pipeline([("scale", StandardScaler()), ("svm", SVC())]).fit(x, np.arange(20) % 2)
    sio.dump(pipe, f / "model.skops")
    _set_card(f, model_sha256=sha256_file(f / "model.skops"))


def _m_swapped(f: Path) -> None:
    """Another, valid model saved under the shipped name and version: loads, but its fingerprint
    is not a shipped one."""
    card = json.loads((f / "card.json").read_text())
    x = np.random.default_rng(1).normal(size=(20, len(card["columns"])))
    pipe = Pipeline([("scale", StandardScaler()), ("svm", SVC())]).fit(x, np.arange(20) % 2)
    save_model(DetectorModel(pipe, card["columns"], card["threshold"], card["name"], str(card["version"])), f,
               card=card)


def _m_card_lr_bound(f: Path) -> None:
    """The card claims a larger LR bound than the model file holds (the hash still matches)."""
    cal = json.loads((f / "card.json").read_text()).get("calibration")
    if not isinstance(cal, dict):
        raise ValueError(f"{f}: the source model has no calibration to edit")
    _set_card(f, calibration={**cal, "llr_upper": 6.0})


#: Crafted model folder kind -> (how it is made from a copy of the shipped model, expected outcome).
#: Outcomes: ``refused`` (a one-line ModelError) or ``unverified`` (loads, not a shipped fingerprint).
MODEL_KINDS = {
    "exec_reduce": (_m_exec, "refused"),
    "eval_reduce": (_m_eval, "refused"),
    "os_system_reduce": (_m_os_system, "refused"),
    "function_value": (_m_function, "refused"),
    "arbitrary_object": (_m_object, "refused"),
    "flipped_byte": (_m_flipped_byte, "refused"),
    "card_sha_edited": (lambda f: _set_card(f, model_sha256="0" * 64), "refused"),
    "card_sha_empty": (lambda f: _set_card(f, model_sha256=""), "refused"),
    "card_sha_missing": (lambda f: _set_card(f, model_sha256=_DELETE), "refused"),
    "card_threshold_1000": (lambda f: _set_card(f, threshold=1000), "refused"),
    "card_threshold_text": (lambda f: _set_card(f, threshold="abc"), "refused"),
    "card_columns_missing": (lambda f: _set_card(f, columns=_DELETE), "refused"),
    "card_columns_short": (lambda f: _set_card(f, columns=json.loads((f / "card.json").read_text())["columns"][:-1]),
                           "refused"),
    "card_is_list": (lambda f: (f / "card.json").write_text("[1, 2, 3]"), "refused"),
    "card_not_json": (lambda f: (f / "card.json").write_bytes(b"\xff\xfe{ not json"), "refused"),
    "card_name_edited": (lambda f: _set_card(f, name="trusted-lab-model"), "refused"),
    "card_lr_bound_edited": (_m_card_lr_bound, "refused"),
    "model_is_dir": (lambda f: ((f / "model.skops").unlink(), (f / "model.skops").mkdir()), "refused"),
    "model_missing": (lambda f: (f / "model.skops").unlink(), "refused"),
    "not_a_zip": (_m_not_zip, "refused"),
    "zip_bomb": (_m_zip_bomb, "refused"),
    "format1_bare_pipeline": (_m_bare_pipeline, "refused"),
    "swapped_model": (_m_swapped, "unverified"),
}


def make_model_folders(out: str | os.PathLike, quick: bool = False,
                       source: str | os.PathLike = DEFAULT_MODEL_DIR) -> list[tuple[str, Path]]:
    """Crafted copies of the model folder ``source`` under ``out/models/<kind>``."""
    root = Path(out) / "models"
    if root.exists():
        shutil.rmtree(root)
    kinds = list(MODEL_KINDS)
    if quick:
        kinds = ["exec_reduce", "os_system_reduce", "card_sha_empty", "card_threshold_1000", "card_is_list",
                 "model_is_dir", "swapped_model"]
    made = []
    for kind in kinds:
        folder = root / kind
        shutil.copytree(source, folder, ignore=shutil.ignore_patterns("evaluation"))
        MODEL_KINDS[kind][0](folder)
        made.append((kind, folder))
    return made
