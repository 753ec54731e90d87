"""Scaling: the scanner with 1 vs 2 worker processes, and peak RSS per worker on a 1-hour video.

    python benchmarks/scaling.py [--clips 10] [--frames 16] [--hours 1] [--repeat 3]

1. ``deepfake-detector scan`` (the library call, local pool) over the same 720p clips
   with ``--workers 1`` then ``--workers 2``, alternated ``--repeat`` times, each in a fresh
   database: wall time, videos/s, speedup of the median walls (target >= 1.8x; the two
   shared vCPUs move single pairs by +-0.15), and the workers' CPU seconds per video (from
   ``getrusage`` of the reaped workers, worker start-up included) to tell the design's scaling from the machine's
   load (the cores are shared).
2. A 1-hour video made by concatenating copies of a 720p clip (PyAV remux, no
   re-encoding, cached outside the repository), scanned by one worker in a fresh process:
   the worker's peak resident memory (``VmHWM`` of the worker process, polled every
   50 ms until it exits; ``ru_maxrss`` would report the parent's size at fork; target
   <= 500 MB) and its time; plus decode-only of the same 16 samples with the project's
   decoder (PyAV, keyframe seeks) and with the OpenCV one it replaced.

Writes ``benchmarks/results/scaling.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import common  # noqa: F401  (pins threads first)
from common import CACHE, REPO, Clock, clips_720p, decoder, machine, manifest, write_json
from detector.decode import DEFAULT_FRAMES  # noqa: E402

SCAN_CHILD = r"""
import json, os, resource, sys, threading, time
sys.path.insert(0, {repo!r})
from detector.scan import scan
from detector.model import load_model, ModelError

peak = {{}}  # worker pid -> VmHWM (MB): the peak RSS of the worker's own image (reset at exec)
stop = threading.Event()

def children():
    # this process's child pids from /proc/self/task/*/children: a few reads, not a walk of
    # /proc, whose ~2,000 reads a second took CPU from the workers being measured
    out = []
    for t in os.listdir("/proc/self/task"):
        try:
            out += open(f"/proc/self/task/{{t}}/children").read().split()
        except OSError:
            pass
    return out

def watch():
    workers = set()  # pids seen to be scan workers (a child read between fork and exec is not yet one)
    while not stop.is_set():
        for d in children():
            try:
                if d not in workers:
                    if "worker_main" not in open(f"/proc/{{d}}/cmdline").read():
                        continue  # not a scan worker
                    workers.add(d)
                for line in open(f"/proc/{{d}}/status"):
                    if line.startswith("VmHWM:"):
                        peak[d] = max(peak.get(d, 0), int(line.split()[1]) / 1024)
            except (OSError, IndexError):
                pass
        time.sleep(0.05)

threading.Thread(target=watch, daemon=True).start()
try:
    model = load_model({model!r})
except ModelError:
    model = None
t = time.perf_counter()
s = scan({inputs!r}, {db!r}, model=model, n_frames={frames}, workers={workers}, progress=False,
         tasks_per_worker=10**6)
wall = time.perf_counter() - t
stop.set()
ru = resource.getrusage(resource.RUSAGE_CHILDREN)
me = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({{"wall_s": wall, "parent_cpu_s": me.ru_utime + me.ru_stime, "done": s.done, "failed": s.failed, "workers_cpu_s": ru.ru_utime + ru.ru_stime,
                  "workers_peak_rss_mb": max(peak.values()) if peak else None,
                  "peak_rss_mb_per_worker": sorted(peak.values())}}))
"""


def run_scan(inputs: list[str], workers: int, frames: int, model: str | None) -> dict:
    """A scan in a fresh process (so getrusage(CHILDREN) sees only its workers)."""
    with tempfile.TemporaryDirectory() as d:
        code = SCAN_CHILD.format(repo=str(REPO), model=model, inputs=inputs, db=str(Path(d) / "s.db"),
                                 frames=frames, workers=workers)
        r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=3600)
        if r.returncode != 0:
            raise RuntimeError(r.stderr[-2000:])
        return json.loads(r.stdout.strip().splitlines()[-1])


def concat_copies(src: str, n: int, out: Path) -> None:
    """``n`` copies of ``src`` joined into ``out`` without re-encoding (PyAV remux; the
    timestamps of each copy are shifted past the previous one)."""
    import av

    tmp = out.with_suffix(".part.mp4")
    with av.open(str(tmp), "w") as dst:
        ostream = None
        offset = 0
        for _ in range(n):
            with av.open(src) as inp:
                istream = inp.streams.video[0]
                if ostream is None:
                    ostream = dst.add_stream_from_template(istream)
                last = offset
                for pkt in inp.demux(istream):
                    if pkt.dts is None:
                        continue
                    step = pkt.duration or 1
                    pkt.pts = None if pkt.pts is None else pkt.pts + offset
                    pkt.dts += offset
                    last = max(last, (pkt.pts if pkt.pts is not None else pkt.dts) + step)
                    pkt.stream = ostream
                    dst.mux(pkt)
                offset = last
    tmp.replace(out)


def long_video(hours: float) -> tuple[Path, str]:
    """A ``hours``-long 720p H.264 video: copies of one c40 clip joined without re-encoding."""
    m = manifest()
    src = m[(m.width == 1280) & (m.compression == "c40")].sort_values("path").iloc[0]
    n = max(1, int(round(hours * 3600 / (src.frames / src.fps))))
    out = CACHE / f"long_{hours:g}h_{Path(src.path).stem}.mp4"
    if not out.exists():
        out.parent.mkdir(parents=True, exist_ok=True)
        concat_copies(src.abs_path, n, out)
    return out, src.path


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clips", type=int, default=10)
    ap.add_argument("--frames", type=int, default=DEFAULT_FRAMES)
    ap.add_argument("--hours", type=float, default=1.0)
    ap.add_argument("--model", default=None, help="model folder (default models/default)")
    ap.add_argument("--repeat", type=int, default=3, help="alternated runs of each pool size (default 3)")
    args = ap.parse_args(argv)
    clips = clips_720p(args.clips)
    info = machine({"clips": len(clips), "frames": args.frames})
    print(f"{len(clips)} clips, load {info['loadavg_start'][0]:.2f}", flush=True)
    inputs = list(clips.abs_path)

    runs: dict[int, list[dict]] = {1: [], 2: []}
    for k in range(args.repeat):  # alternated, so that a change in the machine's load touches both
        for w in (1, 2):
            load = os.getloadavg()[0]
            r = run_scan(inputs, w, args.frames, args.model)
            r.update(workers=w, videos_per_s=len(inputs) / r["wall_s"],
                     cpu_s_per_video=r["workers_cpu_s"] / len(inputs),
                     cores_obtained=r["workers_cpu_s"] / r["wall_s"], loadavg_before=load)
            runs[w].append(r)
            print(f"  run {k + 1}, workers {w}: {r['wall_s']:.1f} s wall, {r['videos_per_s']:.3f} videos/s, "
                  f"{r['cpu_s_per_video']:.2f} CPU s/video, {r['cores_obtained']:.2f} cores obtained, peak RSS "
                  f"{r['workers_peak_rss_mb']:.0f} MB, parent {r['parent_cpu_s']:.2f} CPU s (load {load:.2f})",
                  flush=True)
    # the median run of each (by wall time), its fields as before
    res = {f"workers_{w}": {**sorted(rs, key=lambda r: r["wall_s"])[len(rs) // 2], "wall_s_runs": [r["wall_s"] for r in rs]}
           for w, rs in runs.items()}
    pairs = [a["wall_s"] / b["wall_s"] for a, b in zip(runs[1], runs[2])]
    speedup = res["workers_1"]["wall_s"] / res["workers_2"]["wall_s"]
    cpu_ratio = res["workers_2"]["cpu_s_per_video"] / res["workers_1"]["cpu_s_per_video"]
    print(f"speedup 2 vs 1 workers (median walls of {args.repeat} alternated runs): x{speedup:.2f} (target >= 1.8; "
          f"pairs {', '.join(f'{p:.2f}' for p in pairs)}); CPU per video 2w/1w: x{cpu_ratio:.2f}; "
          f"the wall-clock speedup is bounded by the cores the other jobs leave free")

    path, src = long_video(args.hours)
    from detector.video import probe

    info_long = probe(path, sha256=False)
    r = run_scan([str(path)], 1, args.frames, args.model)
    print(f"{args.hours:g} h video ({info_long.duration_s / 3600:.2f} h, {info_long.frame_count} frames, "
          f"{path.stat().st_size / 1e6:.0f} MB): worker peak RSS {r['workers_peak_rss_mb']:.0f} MB (target <= 500), "
          f"scan {r['wall_s']:.1f} s wall, {r['workers_cpu_s']:.1f} worker CPU s", flush=True)
    dec = {}
    for name in ("project", "opencv"):
        with Clock() as c:
            n = sum(1 for _ in decoder(name)(str(path), args.frames))
        dec[name] = {"cpu_s": c.cpu, "wall_s": c.wall, "frames": n}
        print(f"  decode-only {name:18s} {c.cpu:6.2f} CPU s for {n} frames", flush=True)
    long_res = {"path": str(path), "made_from": src, "duration_s": info_long.duration_s,
                "frame_count": info_long.frame_count, "bytes": path.stat().st_size, "scan": r, "decode_only": dec,
                "target_peak_rss_mb_max": 500}
    write_json("scaling", {
        "command": "python benchmarks/scaling.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "machine": info, "scan": res, "speedup_2_vs_1": speedup, "speedup_pairs": pairs, "cpu_per_video_2_over_1": cpu_ratio,
        "target_speedup_min": 1.8, "long_video": long_res})
    return 0


if __name__ == "__main__":
    sys.exit(main())
