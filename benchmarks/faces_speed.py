"""Face finding: the 640-px pass it replaced against the 320-px one, on the same frames.

    taskset -c 1 python benchmarks/faces_speed.py [--clips 10] [--frames 16] [--width 320]
        [--follow 4] [--margin 1.5] [--feature-clips 6] [--out faces_speed_320]

One process, one thread.  Each clip of ../shared/data (``--clips`` N: N of them, evenly
spread over the path-sorted manifest; default all) is decoded once with the analysis' own
sampling (:func:`detector.decode.iter_frames`, the shipped model's sampling); every
detector variant then runs on the same images, in an order that rotates frame by frame so
that all see the same machine load:

- ``old``: :class:`detector.faces.SequenceDetector` with one whole-frame pass at 640 px
  per frame (features versions up to 6);
- ``new``: a whole-frame pass at ``--width`` px (the default, :data:`detector.faces.DETECT_WIDTH`),
  and at 640 px when it finds no face (:data:`detector.faces.FALLBACK_WIDTH`);
- ``new+follow``: as ``new`` in every ``--follow``-th sampled frame, a window around the
  previous frame's faces in between (``full_every=--follow``).

Per variant: frames with >= 1 face (recall; issue 24's target >= 99 %), faces found, the
old faces it missed (no face with box IoU > 0.5) and their sizes, per matched face the
max and median distance of the five landmarks in original pixels (and relative to the
eye distance) and the box IoU, and the face stage's CPU seconds (``time.process_time``)
with its ratio to ``old``.  On ``--feature-clips`` clips, :func:`detector.analysis.analyze`
with the shipped model (only its families) runs under each variant: the largest
|difference| of each model column of the decisive track, in units of the model scaler's
spread across the training videos, and the score differences.  Writes
``benchmarks/results/<--out>.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import sys

import common  # noqa: F401  (pins threads first)
from common import Clock, machine, manifest, write_json

import numpy as np

from detector import faces as F
from detector.analysis import analyze
from detector.decode import DEFAULT_FRAMES, iter_frames
from detector.model import load_model
from detector.video import probe


def variants(width: int, follow: int, margin: float) -> dict[str, dict]:
    """Name -> SequenceDetector settings (also patched into analyze by :func:`patched`)."""
    return {"old": {"width": 640, "fallback_width": 0, "full_every": 1, "margin": margin},
            "new": {"width": width, "fallback_width": 640, "full_every": 1, "margin": margin},
            "new+follow": {"width": width, "fallback_width": 640, "full_every": follow, "margin": margin}}


def pick_clips(n: int | None):
    m = manifest().sort_values("path").reset_index(drop=True)
    if n and n < len(m):
        m = m.iloc[np.unique(np.round(np.linspace(0, len(m) - 1, n)).astype(int))].reset_index(drop=True)
    return m


def compare(ref: list[F.Face], got: list[F.Face]) -> tuple[list[dict], list[F.Face]]:
    """Per face of ``ref``: its match in ``got`` (box IoU > 0.5, best first), with the
    landmark distances (max, median over the five points; original pixels and share of the
    eye distance) and the box IoU; and the faces of ``ref`` without a match."""
    pairs, lost, used = [], [], set()
    for f in ref:
        ious = [(F._iou(f.box, g.box), j) for j, g in enumerate(got) if j not in used]
        iou, j = max(ious, default=(0.0, -1))
        if iou <= 0.5:
            lost.append(f)
            continue
        used.add(j)
        d = np.linalg.norm(got[j].landmarks - f.landmarks, axis=1)
        eye = max(float(np.linalg.norm(f.landmarks[1] - f.landmarks[0])), 1.0)
        pairs.append({"max_px": float(d.max()), "median_px": float(np.median(d)),
                      "max_eye": float(d.max() / eye), "iou": float(iou)})
    return pairs, lost


def run_clip(path: str, n_frames: int, settings: dict[str, dict], sampling: str) -> dict:
    """Decode ``path``'s samples once; run every variant on each frame, rotating the order."""
    info = probe(path, sha256=False)
    images = [np.asarray(fr.image) for fr in iter_frames(path, n_frames, info=info, sampling=sampling)]
    dets = {k: F.SequenceDetector(**s) for k, s in settings.items()}
    names = list(dets)
    cpu = dict.fromkeys(names, 0.0)
    found = {k: [] for k in names}
    for i, im in enumerate(images):
        for k in names[i % len(names):] + names[:i % len(names)]:
            with Clock() as c:
                found[k].append(dets[k](im))
            cpu[k] += c.cpu
    out = {"path": path, "width": info.width, "height": info.height, "n_frames": len(images), "variants": {}}
    for k in names:
        pairs, lost = [], []
        for ref, got in zip(found["old"], found[k]):
            p, lo = compare(ref, got)
            pairs += p
            lost += [{"w": f.box[2], "share_of_width": f.box[2] / info.width,
                      "secondary": any(g.box[2] * g.box[3] > f.box[2] * f.box[3] for g in ref)} for f in lo]
        n_new = sum(len(x) for x in found[k])
        out["variants"][k] = {"cpu_s": cpu[k], "frames_with_face": sum(bool(x) for x in found[k]),
                              "faces": n_new, "lost": lost, "extra": n_new - len(pairs), "pairs": pairs,
                              "n_windowed": dets[k].n_windowed}
    return out


@contextlib.contextmanager
def patched(width: int, fallback_width: int, full_every: int, margin: float):
    """analyze() under a variant: its SequenceDetector reads these module defaults."""
    old = F.DETECT_WIDTH, F.FALLBACK_WIDTH, F.FULL_DETECT_EVERY, F.ROI_MARGIN
    F.DETECT_WIDTH, F.FALLBACK_WIDTH, F.FULL_DETECT_EVERY, F.ROI_MARGIN = width, fallback_width, full_every, margin
    try:
        yield
    finally:
        F.DETECT_WIDTH, F.FALLBACK_WIDTH, F.FULL_DETECT_EVERY, F.ROI_MARGIN = old


def feature_diffs(paths: list[str], n_frames: int, settings: dict[str, dict], model) -> dict:
    """Largest |difference| of each model column (decisive track, in scaler spreads) and of
    the score, each variant against ``old``, over ``paths``."""
    scale = {c: s for c, (_, s) in model.scaler_reference().items()}
    res = {k: {"per_clip": []} for k in settings if k != "old"}
    for p in paths:
        runs = {}
        for k, s in settings.items():
            with patched(**s):
                a = analyze(p, model=model, n_frames=n_frames, families="model")
            tr = a.decisive or a.main_track
            runs[k] = (a.score, a.verdict, {} if tr is None else tr.features, len(a.tracks))
        s0, v0, f0, t0 = runs["old"]
        for k in res:
            s1, v1, f1, t1 = runs[k]
            d = {c: abs(f1.get(c, np.nan) - f0.get(c, np.nan)) / scale.get(c, 1.0) for c in model.columns}
            res[k]["per_clip"].append({"path": p, "score_old": s0, "score_new": s1, "verdict_old": v0,
                                       "verdict_new": v1, "tracks_old": t0, "tracks_new": t1,
                                       "max_col_diff_in_spreads": d})
    for k, r in res.items():
        cols = {c: float(np.nanmax([x["max_col_diff_in_spreads"][c] for x in r["per_clip"]])) for c in model.columns}
        r["max_col_diff_in_spreads"] = cols
        r["max_any_column"] = max(cols.values())
        r["max_abs_score_diff"] = float(np.nanmax([abs((x["score_new"] or np.nan) - (x["score_old"] or np.nan))
                                                   for x in r["per_clip"]]))
        r["verdicts_changed"] = sum(x["verdict_new"] != x["verdict_old"] for x in r["per_clip"])
    return res


def summarize(clips: list[dict]) -> dict:
    names = list(clips[0]["variants"])
    cpu_old = sum(c["variants"]["old"]["cpu_s"] for c in clips)
    out = {}
    for k in names:
        vs = [c["variants"][k] for c in clips]
        pairs = [p for v in vs for p in v["pairs"]]
        lost = [x for v in vs for x in v["lost"]]
        cpu = sum(v["cpu_s"] for v in vs)

        def q(key, f):
            return float(f([p[key] for p in pairs])) if pairs else None

        out[k] = {
            "cpu_s": cpu, "cpu_ratio_to_old": cpu / cpu_old if cpu_old else None,
            "frames": sum(c["n_frames"] for c in clips), "frames_with_face": sum(v["frames_with_face"] for v in vs),
            "faces": sum(v["faces"] for v in vs), "faces_lost": len(lost),
            "faces_lost_secondary": sum(x["secondary"] for x in lost),
            "faces_lost_max_width_px": max((x["w"] for x in lost), default=None),
            "clips_losing_faces": sum(bool(v["lost"]) for v in vs), "faces_extra": sum(v["extra"] for v in vs),
            "matched": len(pairs),
            "landmark_identical_share": q("max_px", lambda a: np.mean(np.asarray(a) == 0)),
            "landmark_max_px": {"median": q("max_px", np.median), "p95": q("max_px", lambda a: np.percentile(a, 95)),
                                "max": q("max_px", np.max)},
            "landmark_median_px": {"median": q("median_px", np.median), "max": q("median_px", np.max)},
            "landmark_max_eye_share": {"p95": q("max_eye", lambda a: np.percentile(a, 95)),
                                       "max": q("max_eye", np.max)},
            "box_iou": {"median": q("iou", np.median), "min": q("iou", np.min)},
            "windowed_frames": sum(v["n_windowed"] for v in vs),
        }
    return out


def slim(clips: list[dict]) -> list[dict]:
    """The per-clip records for the JSON: each variant's matched faces counted and their
    largest landmark distance, not listed."""
    out = []
    for c in clips:
        vs = {k: {**{x: y for x, y in v.items() if x != "pairs"}, "matched": len(v["pairs"]),
                  "landmark_max_px": max((p["max_px"] for p in v["pairs"]), default=None)}
              for k, v in c["variants"].items()}
        out.append({**c, "variants": vs})
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--clips", type=int, default=None, help="N clips spread over the manifest (default all)")
    ap.add_argument("--frames", type=int, default=DEFAULT_FRAMES)
    ap.add_argument("--width", type=int, default=F.DETECT_WIDTH, help="the new pass's size, px")
    ap.add_argument("--follow", type=int, default=4, help="new+follow: a whole-frame search every N samples")
    ap.add_argument("--margin", type=float, default=F.ROI_MARGIN, help="window margin, face sizes per side")
    ap.add_argument("--feature-clips", type=int, default=6)
    ap.add_argument("--out", default="faces_speed_320")
    a = ap.parse_args(argv)
    settings = variants(a.width, a.follow, a.margin)
    model = load_model()
    clips = []
    m = pick_clips(a.clips)
    for i, p in enumerate(m.abs_path):
        clips.append(run_clip(p, a.frames, settings, model.sampling))
        v = clips[-1]["variants"]
        print(f"[{i + 1}/{len(m)}] {m.path[i]} " + "  ".join(
            f"{k} {x['cpu_s']:.2f}s {x['frames_with_face']}/{clips[-1]['n_frames']} lost {len(x['lost'])}"
            for k, x in v.items()), flush=True)
    summary = summarize(clips)
    fclips = pick_clips(a.feature_clips).abs_path.tolist() if a.feature_clips else []
    feats = feature_diffs(fclips, a.frames, settings, model) if fclips else {}
    print(f"\n{'variant':<15}{'CPU s':>8}{'ratio':>7}{'recall':>15}{'faces':>7}{'lost (2nd)':>12}"
          f"{'lm max px med/p95/max':>24}{'IoU min':>9}")
    for k, s in summary.items():
        lm = s["landmark_max_px"]
        print(f"{k:<15}{s['cpu_s']:8.2f}{s['cpu_ratio_to_old']:7.3f}"
              f"{s['frames_with_face']:>8}/{s['frames']:<6}{s['faces']:>7}"
              f"{s['faces_lost']:>6} ({s['faces_lost_secondary']})"
              f"{lm['median']:>10.1f}/{lm['p95']:.1f}/{lm['max']:.1f}{s['box_iou']['min']:>9.3f}")
    for k, r in feats.items():
        print(f"{k}: on {len(fclips)} clips, largest model-column difference {r['max_any_column']:.3f} spreads, "
              f"score difference <= {r['max_abs_score_diff']:.4f}, verdicts changed {r['verdicts_changed']}")
    write_json(a.out, {"command": " ".join([sys.executable.rsplit('/', 1)[-1], *sys.argv]), "settings": settings,
                       "detect_width": F.DETECT_WIDTH, "summary": summary,
                       "features": feats, "clips": slim(clips),
                       "machine": machine({"note_frames": "each clip decoded once; every variant on the same images"})})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
