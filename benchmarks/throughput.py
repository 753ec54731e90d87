"""Throughput: the full pipeline against decode-only of the same sampled frames, per core.

    python benchmarks/throughput.py [--clips 10] [--frames 16] [--model models/default]
    python benchmarks/throughput.py --inspect-only           # only the `inspect` wall time (median of 5)
    taskset -c 1 python benchmarks/throughput.py --clips 10 --only "decode[whole]" "decode[project]" \
        "pipeline[default]" --out throughput_issue24     # issue 24's figures, one core

One process, one thread (OMP/BLAS/OpenCV pinned to 1 thread before anything loads).
For each 720p clip of ../shared/data, interleaved so that every setting sees the same
machine load:

- ``decode[project]``: :func:`detector.decode.iter_frames` with the same sampling (the
  model's, as ``pipeline[default]``; the project's decoder: PyAV, unsampled non-reference
  frames skipped; the physical limit of this design); ``decode[opencv]`` / ``pipeline[opencv]``: the decoder it replaced
  (OpenCV ``grab`` through every frame; the same sampled pixels);
- ``pipeline[default]``: :func:`detector.analysis.analyze` as the batch scanner runs it
  (only the feature families the model reads); ``pipeline[all families]``: as
  ``inspect`` and the dashboard run it (every family, for display); ``pipeline[eager
  followers]``: the default with every following frame converted whole (as before
  :class:`detector.decode.LazyBGR`, which covers 4:4:4 and, since the twelfth session, 4:2:0
  clips; the same features);
- prototypes (nothing changed on disk): face detection on a 320-px-wide copy (``w320``;
  the default since features version 7, so now the same as ``pipeline[default]``), boxes at 320 px then landmarks on each face's crop (``refine320``,
  :func:`common.detect_faces_refined`), fewer frames (``half``), and another sampling:
  runs of reference frames from the starts of 2 GOPs (``gop``, decodes ~16 frames in all).
- ``decode[S]`` / ``pipeline[S]`` for S = ``spread``, ``runs``, ``front``: the project's
  samplings (:mod:`detector.sampling`: samples spread over the whole video; runs of
  consecutive frames after keyframes; samples spread over the fronts of the keyframe
  intervals, the shipped model's since v17, so ``pipeline[front]`` is ``pipeline[default]``),
  patched in under the default model (the timing is real, the score only for the model's
  own sampling); the samplings side by side (:func:`sampling_summary`): the scan's
  multiple of real time per clip (mean, 90th percentile) and its CPU over ``decode[whole]``
  (every frame of the clip decoded once by PyAV, no conversion).

Issue 24's figures, side by side in the same run, each printed with its target and PASS/FAIL
(:func:`issue24_summary`): the scan (``pipeline[default]``) as a multiple of real time per clip
(mean, and the 90th percentile: 90 % of the clips at least that fast); its CPU over
``decode[whole]`` (every frame of the clip decoded once by PyAV with the project's one thread,
no conversion); the median wall time of ``--inspect-runs`` (5) runs of ``python -m detector
inspect`` on the 720p clip closest to 10 s (fresh interpreters: imports and model loading
count); and ``peer.py``'s EfficientNet-B4 (``--peer``; needs torch) on the same sampled frames
and YuNet faces, its CPU over the scan's per clip (median).

Per clip it also compares ``pipeline[default]`` with issue 2's limit (a 720p clip in
under 3 CPU s on one core): ``--clips 46`` takes every 720p clip of the data set.

``--platform PROFILE`` (a profile of :data:`detector.profiles.PROFILES`, e.g. ``crf23``) runs
every setting on whole-length re-encodes of the same clips at that profile instead (4:2:0, as
platforms deliver their videos; made once into ``--copies`` by :func:`detector.degrade.make_degraded`).

The process keeps freed memory for reuse as the scan's workers do
(:func:`detector.memory.keep_freed_memory`; ``--glibc-defaults``: not).

Reports CPU seconds (``time.process_time``: robust to other jobs on the machine),
videos/s per core, x real time per core (video seconds / CPU seconds) and the ratio
pipeline / decode-only measured side by side; writes ``benchmarks/results/throughput.json``.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import common  # noqa: F401  (pins threads first)
from common import REPO, Clock, clips_720p, compile_package, decode_whole, decoder, load_model_or_none, machine, variant, write_json
from detector.decode import DEFAULT_FRAMES  # noqa: E402
from detector.faces import DETECT_WIDTH  # noqa: E402
from detector.features import BLOCK_RUN  # noqa: E402

import numpy as np

# (name, kind, decoder, detect width, frames factor)  frames factor 1 = --frames, 0.5 = half
SETTINGS = [
    ("decode[whole]", "decode_whole", "project", None, 1),
    ("decode[project]", "decode", "project", None, 1),
    ("pipeline[default]", "pipeline", "project", None, 1),
    ("pipeline[eager followers]", "pipeline", "eager", None, 1),
    ("pipeline[windows]", "pipeline", "project", "windows", 1),
    ("pipeline[all families]", "pipeline_all", "project", None, 1),
    ("decode[opencv]", "decode", "opencv", None, 1),
    ("pipeline[opencv]", "pipeline", "opencv", None, 1),
    ("pipeline[w320]", "pipeline", "project", 320, 1),
    ("pipeline[refine320]", "pipeline", "project", "refine320", 1),
    ("decode[gop]", "decode", "pyav_gop", None, 1),
    ("pipeline[gop]", "pipeline", "pyav_gop", None, 1),
    ("pipeline[gop,w320]", "pipeline", "pyav_gop", 320, 1),
    ("decode[project,half]", "decode", "project", None, 0.5),
    ("pipeline[half]", "pipeline", "project", None, 0.5),
    ("pipeline[w320,half]", "pipeline", "project", 320, 0.5),
    ("decode[spread]", "decode", "spread", None, 1),
    ("pipeline[spread]", "pipeline", "spread", None, 1),
    ("decode[runs]", "decode", "runs", None, 1),
    ("pipeline[runs]", "pipeline", "runs", None, 1),
    ("decode[front]", "decode", "front", None, 1),
    ("pipeline[front]", "pipeline", "front", None, 1),
]
#: pipeline setting -> the decode-only setting with the same decoder and frames
BASELINE = {
    "pipeline[default]": "decode[project]", "pipeline[eager followers]": "decode[project]",
    "pipeline[windows]": "decode[project]", "pipeline[all families]": "decode[project]",
    "pipeline[opencv]": "decode[opencv]", "pipeline[w320]": "decode[project]", "pipeline[refine320]": "decode[project]",
    "pipeline[gop]": "decode[gop]", "pipeline[gop,w320]": "decode[gop]",
    "pipeline[half]": "decode[project,half]", "pipeline[w320,half]": "decode[project,half]",
    "pipeline[runs]": "decode[runs]", "pipeline[front]": "decode[front]", "pipeline[spread]": "decode[spread]",
}
#: the scans of the samplings (:mod:`detector.sampling`) compared by :func:`sampling_summary`
SAMPLING_SETTINGS = {"default": "pipeline[default]", "spread": "pipeline[spread]", "runs": "pipeline[runs]",
                     "front": "pipeline[front]"}


#: Issue 2: a 720p FF++ clip in under this many CPU seconds on one core (16 frames).
CLIP_LIMIT_S = 3.0
#: Issue 24's targets: (figure, comparison, target); every figure is per clip, one core.
ISSUE24_TARGETS = {
    "scan_x_realtime_mean": (">=", 20.0), "scan_x_realtime_p90": (">=", 20.0),
    "scan_over_whole_decode_mean": ("<=", 0.35), "scan_over_whole_decode_p90": ("<=", 0.35),
    "inspect_wall_median_s": ("<=", 1.5), "peer_over_scan_median": (">=", 10.0),
}


def _adopt_orphans() -> bool:
    """Make this process the reaper of its orphaned descendants (Linux
    ``PR_SET_CHILD_SUBREAPER``), so that ``inspect``'s scoring process, which outlives the
    ``inspect`` process by its own exit, can be waited for and its CPU time read; False elsewhere
    (and where the kernel does not list a process's children, which :func:`_children` reads)."""
    import ctypes

    if not Path(f"/proc/{os.getpid()}/task/{os.getpid()}/children").exists():
        return False
    try:
        return ctypes.CDLL(None).prctl(36, 1, 0, 0, 0) == 0  # 36: PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):
        return False


def _children() -> set[int]:
    """Process ids of this process's children (Linux ``/proc/PID/task/TID/children``)."""
    out = set()
    for task in Path(f"/proc/{os.getpid()}/task").iterdir():
        try:
            out.update(int(p) for p in (task / "children").read_text().split())
        except OSError:
            pass
    return out


def _reap_orphans(before: set[int]) -> float:
    """Wait for the children adopted by :func:`_adopt_orphans` since ``before`` (this process's
    children then) and return their CPU seconds (user + system)."""
    cpu = 0.0
    for pid in _children() - before:
        try:
            _, _, ru = os.wait4(pid, 0)
        except ChildProcessError:
            continue
        cpu += ru.ru_utime + ru.ru_stime
    return cpu


def inspect_wall(path: str, runs: int = 5) -> dict:
    """``python -m detector inspect PATH`` run ``runs`` times from the repository root (a fresh
    interpreter each time, so imports and model loading count; the package byte-compiled first, as
    installed: :func:`common.compile_package`): wall seconds of each run, their median, and the CPU
    seconds the runs used (user + system, from ``RUSAGE_CHILDREN``).

    With two cores ``inspect`` loads and scores the model in a child interpreter
    (:class:`detector.scoring.ScoringProcess`) that exits after it; on Linux this process adopts
    it, waits for it after each run (so no run overlaps the previous one's exit) and reports its
    CPU seconds too (``child_cpu_s``): the CPU the two processes need together over two cores
    bounds the wall time from below (``cpu_total_median_s / 2``)."""
    import resource
    import subprocess

    compile_package()
    adopted = _adopt_orphans()
    walls, cpus, child_cpus = [], [], []
    for _ in range(runs):
        before = _children() if adopted else set()
        r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        with Clock() as c:
            subprocess.run([sys.executable, "-m", "detector", "inspect", path], cwd=REPO, check=True,
                           stdout=subprocess.DEVNULL)
        r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        walls.append(c.wall)
        cpus.append(r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime)
        if adopted:
            child_cpus.append(_reap_orphans(before))
    out = {"path": path, "runs": runs, "wall_s": walls, "cpu_s": cpus, "wall_median_s": float(np.median(walls)),
           "cpu_median_s": float(np.median(cpus))}
    if adopted:
        totals = [a + b for a, b in zip(cpus, child_cpus)]
        out.update(child_cpu_s=child_cpus, child_cpu_median_s=float(np.median(child_cpus)),
                   cpu_total_median_s=float(np.median(totals)))
    return out


def inspect_clip(clips) -> str:
    """The 720p clip of the data set whose duration is closest to 10 s (the first by path)."""
    dur = (clips.frames / clips.fps - 10.0).abs()
    return str(clips.abs_path.iloc[int(np.argmin(dur.to_numpy()))])


def load_peer(net_name: str = "efficientnet_b4"):
    """The peer CNN of ``peer.py`` (random weights, one thread) and its input size; None when
    PyTorch is not installed (``pip install -r benchmarks/requirements-bench.txt``)."""
    try:
        import torch  # heavy and optional: only the peer comparison needs it
    except ImportError:
        print("note: torch not installed: no peer ratio (pip install -r benchmarks/requirements-bench.txt)",
              file=sys.stderr)
        return None
    from peer import NETS

    torch.set_num_threads(1)
    torch.manual_seed(0)
    make, size = NETS[net_name]
    net = make().eval()
    with torch.inference_mode():  # warm-up
        net(torch.zeros(1, 3, size, size))
    return net, size


def issue24_summary(per_clip: list[dict], inspect: dict | None) -> dict:
    """Issue 24's figures per clip (one core) against :data:`ISSUE24_TARGETS`: the scan
    (``pipeline[default]``) as a multiple of real time (mean over clips, and the 90th
    percentile: 90 % of the clips at least this fast), its CPU over decoding the whole video
    (mean, 90th percentile: 90 % of the clips at most this), ``inspect``'s median wall time
    and the peer's CPU over the scan's (median per video); each with PASS/FAIL."""
    out: dict = {}
    if per_clip and all("pipeline[default]" in c["settings"] for c in per_clip):
        cpu = np.array([c["settings"]["pipeline[default]"]["cpu"] for c in per_clip])
        xrt = np.array([c["duration_s"] for c in per_clip]) / cpu
        out["scan_x_realtime_mean"], out["scan_x_realtime_p90"] = float(xrt.mean()), float(np.percentile(xrt, 10))
        if all("decode[whole]" in c["settings"] for c in per_clip):
            r = cpu / np.array([c["settings"]["decode[whole]"]["cpu"] for c in per_clip])
            out["scan_over_whole_decode_mean"] = float(r.mean())
            out["scan_over_whole_decode_p90"] = float(np.percentile(r, 90))
        if all("peer" in c for c in per_clip):
            out["peer_over_scan_median"] = float(np.median([c["peer"]["cpu"] for c in per_clip] / cpu))
    if inspect:
        out["inspect_wall_median_s"] = inspect["wall_median_s"]
    return {k: {"value": v, "target": f"{ISSUE24_TARGETS[k][0]} {ISSUE24_TARGETS[k][1]:g}",
                "pass": bool(v >= ISSUE24_TARGETS[k][1] if ISSUE24_TARGETS[k][0] == ">=" else v <= ISSUE24_TARGETS[k][1])}
            for k, v in out.items()}


def sampling_summary(per_clip: list[dict]) -> dict:
    """Per sampling (:data:`SAMPLING_SETTINGS`, those that ran): the scan's multiple of real
    time per clip (mean, and the 90th percentile: 90 % of the clips at least this fast) and,
    with ``decode[whole]``, its CPU over decoding the whole clip once (mean, 90th percentile:
    90 % of the clips at most this), and the frames decoded-only over the whole clip's."""
    out = {}
    dur = np.array([c["duration_s"] for c in per_clip])
    for sampling, name in SAMPLING_SETTINGS.items():
        if not per_clip or not all(name in c["settings"] for c in per_clip):
            continue
        cpu = np.array([c["settings"][name]["cpu"] for c in per_clip])
        s = {"setting": name, "x_realtime_mean": float((dur / cpu).mean()),
             "x_realtime_p90": float(np.percentile(dur / cpu, 10))}
        if all("decode[whole]" in c["settings"] for c in per_clip):
            r = cpu / np.array([c["settings"]["decode[whole]"]["cpu"] for c in per_clip])
            s.update(over_whole_decode_mean=float(r.mean()), over_whole_decode_p90=float(np.percentile(r, 90)))
        out[sampling] = s
    return out


def clip_limit_summary(per_clip: list[dict], setting: str = "pipeline[default]",
                       limit: float = CLIP_LIMIT_S) -> dict:
    """Per-clip CPU seconds of ``setting`` against ``limit``: overall, per compression,
    and for clips up to / over 20 s of video (decoding runs to the last sample)."""
    cpu = np.array([c["settings"][setting]["cpu"] for c in per_clip])
    dur = np.array([c["duration_s"] for c in per_clip])
    comp = np.array([str(c.get("compression")) for c in per_clip])
    groups = {f"compression={k}": comp == k for k in sorted(set(comp))}
    groups.update({"video <= 20 s": dur <= 20, "video > 20 s": dur > 20})
    return {"setting": setting, "limit_cpu_s": limit, "mean_cpu_s": float(cpu.mean()),
            "median_cpu_s": float(np.median(cpu)), "max_cpu_s": float(cpu.max()),
            "clips": int(len(cpu)), "clips_under_limit": int((cpu < limit).sum()),
            "mean_ratio_to_limit": float(cpu.mean() / limit),
            "groups": {k: {"clips": int(m.sum()), "under_limit": int((cpu[m] < limit).sum())}
                       for k, m in groups.items() if m.any()}}


def clip_limit_text(s: dict) -> str:
    g = ", ".join(f"{k}: {v['under_limit']} of {v['clips']}" for k, v in s["groups"].items())
    return (f"per clip, {s['setting']}: mean {s['mean_cpu_s']:.2f}, median {s['median_cpu_s']:.2f}, "
            f"max {s['max_cpu_s']:.2f} CPU s; {s['clips_under_limit']} of {s['clips']} clips under "
            f"{s['limit_cpu_s']:g} s (mean / limit {s['mean_ratio_to_limit']:.2f}; {g})")


def run_setting(path: str, kind: str, dec: str, width, n: int, model) -> dict:
    from detector.analysis import analyze

    if kind.startswith("decode"):
        with Clock() as c:
            if dec == "project" and model is not None:  # the sampling the model's scans use, as pipeline[default]
                dec = model.sampling
            # with the following frames the block run reads (decoded, not converted: as the scan)
            frames = decode_whole(path) if kind == "decode_whole" else \
                sum(1 for _ in decoder(dec)(path, n, follow=BLOCK_RUN - 1))
        return {"cpu": c.cpu, "wall": c.wall, "frames": frames}
    with variant(dec, width):
        with Clock() as c:
            a = analyze(path, model=model, n_frames=n, families="all" if kind == "pipeline_all" else "model")
    return {"cpu": c.cpu, "wall": c.wall, "frames": a.n_sampled, "n_faces": a.n_faces, "verdict": a.verdict,
            "score": a.score, **{f"t_{k}": v for k, v in a.timings.items()}}


def platform_clips(clips, profile: str, out_dir: str):
    """``clips`` re-encoded whole at ``profile`` of :data:`detector.profiles.PROFILES` (made once in
    ``out_dir``; a failed copy is left out): the same table with the copies' paths and frame counts."""
    from detector.degrade import make_degraded
    from detector.profiles import PROFILES
    from detector.video import probe

    if profile not in PROFILES:
        raise SystemExit(f"--platform {profile}: not one of {sorted(PROFILES)}")
    man = make_degraded(clips, out_dir, {profile: PROFILES[profile]}, span=10 ** 9, workers=2)
    copies = man[["abs_path", "source_path"]].rename(columns={"abs_path": "copy", "source_path": "abs_path"})
    out = clips.merge(copies, on="abs_path")
    if out.empty:
        raise SystemExit(f"no {profile} copy could be made in {out_dir}")
    out["path"] = [f"{profile}: {p}" for p in out["path"]]
    out["abs_path"] = out.pop("copy")
    out["frames"] = [probe(p, sha256=False).frame_count for p in out["abs_path"]]
    return out.reset_index(drop=True)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clips", type=int, default=10)
    ap.add_argument("--frames", type=int, default=DEFAULT_FRAMES)
    ap.add_argument("--model", default=None, help="model folder (default models/default; absent: no score)")
    ap.add_argument("--only", nargs="*", help="run only these setting names")
    ap.add_argument("--out", default="throughput", help="results/<OUT>.json (default throughput)")
    ap.add_argument("--inspect-runs", type=int, default=5, help="runs of `inspect` timed (0: none; default 5)")
    ap.add_argument("--inspect-clip", default=None, help="its clip (default: the 720p clip closest to 10 s)")
    ap.add_argument("--inspect-only", action="store_true",
                    help="time only `inspect` and stop (its breakdown and other versions: benchmarks/startup.py)")
    ap.add_argument("--peer", choices=["efficientnet_b4", "xception", "none"], default="efficientnet_b4",
                    help="the peer CNN of peer.py run on each clip (needs torch; default efficientnet_b4)")
    ap.add_argument("--platform", default=None, metavar="PROFILE",
                    help="run on whole-length re-encodes of the clips at this profile (e.g. crf23; made once)")
    ap.add_argument("--copies", default=str(Path.home() / ".cache" / "deepfake-detector" / "throughput_copies"),
                    help="folder of --platform's re-encodes (default ~/.cache/deepfake-detector/throughput_copies)")
    ap.add_argument("--glibc-defaults", action="store_true",
                    help="leave malloc as it starts (the scan's workers keep freed memory: detector.memory)")
    args = ap.parse_args(argv)
    if not args.glibc_defaults:
        from detector.memory import keep_freed_memory

        keep_freed_memory()  # as the scan's workers do
    clips = clips_720p(args.clips)
    if args.platform:
        clips = platform_clips(clips, args.platform, args.copies)
    inspect = None
    if args.inspect_runs > 0:
        inspect = inspect_wall(args.inspect_clip or inspect_clip(clips_720p(10 ** 6)), args.inspect_runs)
        print(f"inspect {inspect['path']}: wall {', '.join(f'{w:.2f}' for w in inspect['wall_s'])} s "
              f"(median {inspect['wall_median_s']:.2f}; CPU median {inspect['cpu_median_s']:.2f} s, the inspect "
              "process alone" + (f"; its scoring child {inspect['child_cpu_median_s']:.2f} s, together "
                                  f"{inspect['cpu_total_median_s']:.2f} s)" if "child_cpu_s" in inspect else
                                  ": a scoring child, with two cores, is not counted)"), flush=True)
    if args.inspect_only:
        write_json(args.out, {
            "command": "python benchmarks/throughput.py " + " ".join(argv if argv is not None else sys.argv[1:]),
            "machine": machine(), "inspect": inspect,
            "issue24": issue24_summary([], inspect)})
        return 0
    peer = None if args.peer == "none" else load_peer(args.peer)
    model = load_model_or_none(args.model)
    settings = [s for s in SETTINGS if not args.only or s[0] in args.only]
    if model is not None and "flick" in model.families and any(s[2] == "pyav_gop" and s[1] != "decode" for s in settings):
        print("note: the PyAV prototypes give no next frame, so their pipeline rows skip the flicker family "
              "this model reads (cheaper than it would really be)", flush=True)
    info = machine({"clips": len(clips), "frames": args.frames, "platform": args.platform,
                    "freed_memory_kept": not args.glibc_defaults,
                    "model": None if model is None else f"{model.name}@{model.version}"})
    print(f"{len(clips)} clips 1280x720 ({'re-encoded ' + args.platform if args.platform else 'the files'}), "
          f"{clips.frames.sum()} frames, load {os.getloadavg()[0]:.2f}", flush=True)

    from detector.analysis import analyze

    analyze(clips.abs_path.iloc[0], model=model, n_frames=2)  # warm-up: imports, model, detector init
    per_clip = []
    for r in clips.itertuples():
        from detector.video import probe

        dur = probe(r.abs_path, sha256=False).duration_s
        row = {"path": r.path, "label": r.label, "compression": r.compression, "duration_s": dur,
               "frame_count": int(r.frames), "settings": {}}
        for name, kind, dec, width, factor in settings:
            n = max(1, int(round(args.frames * factor)))
            row["settings"][name] = run_setting(r.abs_path, kind, dec, width, n, model)
        if peer is not None:
            from peer import peer_video

            row["peer"] = peer_video(r.abs_path, args.frames, *peer)
        per_clip.append(row)
        got = {k: row["settings"][k]["cpu"] for k in ("decode[whole]", "decode[project]", "pipeline[default]")
               if k in row["settings"]}
        if "peer" in row:
            got["peer"] = row["peer"]["cpu"]
        print(f"  {r.path:55s} {dur:5.1f} s  " + "  ".join(f"{k} {v:.2f}" for k, v in got.items()) + " CPU s",
              flush=True)

    total_dur = sum(c["duration_s"] for c in per_clip)
    summary = {}
    for name, kind, dec, width, factor in settings:
        cpu = sum(c["settings"][name]["cpu"] for c in per_clip)
        wall = sum(c["settings"][name]["wall"] for c in per_clip)
        s = {"kind": kind, "decoder": dec, "detect_width": width or DETECT_WIDTH,
             "frames": max(1, int(round(args.frames * factor))), "cpu_s": cpu, "wall_s": wall,
             "videos_per_s_per_core": len(per_clip) / cpu, "x_realtime_per_core": total_dur / cpu,
             "x_realtime_per_core_wall": total_dur / wall}
        if kind.startswith("pipeline"):
            for k in ("t_probe", "t_decode", "t_faces", "t_features", "t_score"):
                s[k] = sum(c["settings"][name].get(k, 0.0) for c in per_clip)
            # analyze()'s stage timings are wall clock (inflated by other jobs): keep their shares,
            # and spread the measured CPU seconds over the stages with them
            tot = sum(s[k] for k in ("t_probe", "t_decode", "t_faces", "t_features", "t_score")) or 1.0
            s["stage_share"] = {k[2:]: s[k] / tot for k in ("t_probe", "t_decode", "t_faces", "t_features", "t_score")}
            s["stage_cpu_s_est"] = {k: v * cpu for k, v in s["stage_share"].items()}
            base = BASELINE.get(name)
            if base in summary:
                s["ratio_to_decode_only"] = cpu / summary[base]["cpu_s"]
                s["decode_only_setting"] = base
            if "decode[whole]" in summary:
                s["ratio_to_whole_decode"] = cpu / summary["decode[whole]"]["cpu_s"]
        summary[name] = s

    print(f"\n{len(per_clip)} clips, {total_dur:.1f} s of video; CPU seconds, one core")
    print(f"{'setting':30s} {'CPU s':>7} {'videos/s':>9} {'x real time':>12} {'pipeline/decode':>16} "
          f"{'/whole decode':>14}")
    for name, s in summary.items():
        ratio = f"{s['ratio_to_decode_only']:.2f}x" if "ratio_to_decode_only" in s else ""
        whole = f"{s['ratio_to_whole_decode']:.2f}x" if "ratio_to_whole_decode" in s else ""
        print(f"{name:30s} {s['cpu_s']:7.2f} {s['videos_per_s_per_core']:9.3f} {s['x_realtime_per_core']:11.1f}x "
              f"{ratio:>16} {whole:>14}")
    print("targets: pipeline[default] <= 1.25x decode-only, >= 20x real time per core")
    print("stage shares (from analyze()'s timings):")
    for name, s in summary.items():
        if "stage_share" in s:
            print(f"  {name:28s} " + "  ".join(f"{k} {v:4.0%}" for k, v in s["stage_share"].items() if k != "score"))
    samplings = sampling_summary(per_clip)
    if samplings:
        print("samplings side by side (per clip, one core; scan CPU over decoding the whole clip, target <= 0.35):")
        for k, v in samplings.items():
            print(f"  {k:7s} {v['setting']:18s} x real time mean {v['x_realtime_mean']:5.1f}, p90 {v['x_realtime_p90']:5.1f}"
                  + (f";  over whole decode mean {v['over_whole_decode_mean']:.2f}, p90 {v['over_whole_decode_p90']:.2f}"
                     if "over_whole_decode_mean" in v else ""))

    # Issue 2's limit: a 720p clip in under 3 CPU s on one core at the default frame count
    # (analyze() as the scanner runs it, after the warm-up: without the interpreter's start-up).
    per_clip_limit = clip_limit_summary(per_clip) if any(s[0] == "pipeline[default]" for s in settings) else None
    if per_clip_limit:
        print(clip_limit_text(per_clip_limit))

    issue24 = issue24_summary(per_clip, inspect)
    print("issue 24 (per clip, one core; the peer: " + ("none" if peer is None else args.peer) + "):")
    for k, v in issue24.items():
        print(f"  {k:30s} {v['value']:8.2f}   target {v['target']:7s} {'PASS' if v['pass'] else 'FAIL'}")

    d = summary.get("pipeline[default]", {})
    write_json(args.out, {
        "command": "python benchmarks/throughput.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "machine": info, "total_video_s": total_dur, "summary": summary, "samplings": samplings,
        "targets": {"pipeline_over_decode_max": 1.25, "x_realtime_per_core_min": 20,
                    "measured_pipeline_over_decode": d.get("ratio_to_decode_only"),
                    "measured_x_realtime_per_core": d.get("x_realtime_per_core")},
        "per_clip_limit": per_clip_limit, "inspect": inspect, "peer": None if peer is None else args.peer,
        "issue24": issue24, "per_clip": per_clip})
    return 0


if __name__ == "__main__":
    sys.exit(main())
