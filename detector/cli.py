"""Command-line interface: ``deepfake-detector COMMAND`` (also ``python -m detector``).

Each command maps to one module; this file only parses arguments and prints.
Exit codes: 0 success, 1 unreadable input or failed command, 2 usage error.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import os
import sqlite3
import sys
import warnings
from pathlib import Path

import pandas as pd

from . import __version__
from .analysis import analyze
from .calibration import evidence_text
from .datasets import read_manifest
from .decode import DEFAULT_FRAMES
from .sampling import DEFAULT_SAMPLING, SAMPLINGS
from .features import FAMILIES, OPT_IN_FAMILIES
from .memory import keep_freed_memory
from .model import DEFAULT_MODEL_DIR, EVALUATION_DIR, ModelError, load_model
from .preload import PendingModel, load_model_in_background
from .quiet import quiet_stderr
from .scoring import ScoringProcess
from .search_names import SEARCH_CHOICES
from .scan import (DEFAULT_MAX_MEMORY_MB, DEFAULT_TASKS_PER_WORKER, ScanError, ScanLockedError, export, report_text,
                   scan)
from .workers import default_workers
from .video import IMAGE_EXTENSIONS, VIDEO_EXTENSIONS, VideoError, probe


def _load_model_or_none(path: str | None, quiet: bool = False, load=load_model):
    """``load(path)`` (:func:`load_model`, or :func:`load_model_in_background`); None, with a note,
    when no ``path`` is given and the default model is missing or refused."""
    if path is None and not (DEFAULT_MODEL_DIR / "card.json").exists():
        _no_model_note(f"none at {DEFAULT_MODEL_DIR}", quiet)
        return None
    try:
        return load(path)
    except ModelError as e:
        if path is not None:
            raise
        _no_model_note(str(e), quiet)
        return None


def _no_model_note(reason: str, quiet: bool = False) -> None:
    if not quiet:
        print(f"note: no model loaded ({reason}); faces and features only", file=sys.stderr)


def _inspect_loader(args, overlap: bool):
    """How ``inspect`` loads its model: with a second core, the model file loads (skops,
    scikit-learn: ~1 s) while the video is decoded (ahead, in another thread) and measured, in
    a child interpreter (:mod:`detector.scoring`; no GIL shared with the analysis; the one
    :mod:`detector.launch` started if it loads this model), or in a thread for a case report
    (its explanations read the pipeline's steps); on one core they would only contend for it."""
    if not overlap:
        return load_model
    if args.report:
        return load_model_in_background
    return functools.partial(load_model_in_background, process=getattr(args, "scoring", None) or True)


def _print_analysis(a, caution: str | None = None) -> None:
    """``inspect``'s short summary of an :class:`~detector.analysis.Analysis` (and ``caution``,
    :func:`detector.dashboard.texts.codec_caution`, under its evidence)."""
    i = a.info
    print(f"file:      {i.path}")
    print(f"sha256:    {i.sha256}")
    pix = f" {i.pix_fmt}" if i.pix_fmt else ""
    turn = f" (shown turned {i.rotation} deg)" if i.rotation else ""
    print(f"video:     {i.kind} {i.container}/{i.codec}{pix} {i.width}x{i.height}{turn} {i.fps:.2f} fps, "
          f"{i.frame_count} frames, {i.duration_s:.1f} s, {i.size_bytes} bytes")
    n_with = a.table["frame"].nunique() if len(a.table) else 0
    print(f"sampled:   {a.n_sampled} frames, faces in {n_with}, {a.n_faces} faces, {len(a.tracks)} tracks "
          f"({a.detector})")
    for t in a.tracks:
        s = "" if t.score is None else f" score {t.score:+.3f} -> {t.verdict}"
        print(f"  track {t.track_id}: {t.n_faces} faces, frames {t.first_frame}-{t.last_frame}{s}")
    if a.model is None:
        print("model:     none loaded (faces and features only)")
    else:
        origin = "shipped" if a.model.get("shipped") else "NOT a shipped model: check its SHA-256 with its sender"
        print(f"model:     {a.model['name']} v{a.model['version']}, threshold {a.threshold:+.3f}, "
              f"sha256 {a.model.get('sha256', '')[:16]}... ({origin})")
    sc = "" if a.score is None else f" (score {a.score:+.3f})"
    if a.verdict == "inconclusive":
        sc = f" (score {a.score:+.3f}; at the threshold alone: {a.threshold_verdict})"
    print(f"verdict:   {a.verdict.upper()}{sc}")
    if a.llr is not None:
        print(f"evidence:  {evidence_text(a.llr)}")
    if caution:
        print(f"caution:   {caution.removeprefix('Caution: ')}")
    t = a.timings
    print(f"time:      {t['total']:.2f} s (decode {t['decode']:.2f}, faces {t['faces']:.2f}, "
          f"features {t['features']:.2f}, score {t['score']:.2f})")


def cmd_inspect(args) -> int:
    if args.report:
        # imported here: the case report's modules (charts, metrics: scikit-learn) cost ~0.6 s of start-up
        from .report import check_report_path, write_case_report

        check_report_path(args.report)  # before a long analysis
    info = probe(args.video)  # unreadable input fails first, with its own message
    overlap = default_workers() > 1
    model = _load_model_or_none(args.model, quiet=False, load=_inspect_loader(args, overlap))
    # the case report shows every family and the face crops, as the dashboard's does
    fams = "all" if args.all_features or args.report or model is None else "model"
    run = functools.partial(analyze, args.video, n_frames=args.frames, info=info, thumbnails=bool(args.report),
                            sampling=args.sampling, decode_ahead=overlap)
    pending = model if isinstance(model, PendingModel) else None
    try:
        a = run(model=model, families=fams)
    except ModelError as e:
        if args.model is not None or pending is None or not pending.failed:
            raise
        _no_model_note(str(e))  # the default model's file refused: as when refused before analysing
        model, a = None, run(model=None, families="all")
    finally:
        if pending is not None:
            pending.close()  # its scoring process, once the scores are in
    if args.report:
        model = model.result() if isinstance(model, PendingModel) else model
        print(f"case report: {write_case_report(args.report, a, model)}", file=sys.stderr)
    from .dashboard.texts import codec_caution  # words only: the analysis, card and calibration it reads are loaded

    caution = codec_caution(a, getattr(model, "card", None))
    if args.json:
        print(json.dumps({**a.to_dict(features=not args.no_features), "caution": caution}))
    else:
        _print_analysis(a, caution)
    return 0


def cmd_extract(args) -> int:
    from .extraction import extract  # imported here: pyarrow's parquet writer is for this command only

    m = read_manifest(args.manifest)
    for p in m.attrs.get("problems", []):
        print(f"skipped row {p.get('row')}: {p.get('reason')} ({p.get('path')})", file=sys.stderr)
    if args.limit:
        m = m.head(args.limit)
    fams = tuple(f for f in args.families.split(",") if f) if args.families else None
    frames, videos = extract(m, args.out, n_frames=args.frames, workers=args.workers, manifest_path=args.manifest,
                             families=fams, sampling=args.sampling)
    failed = len(m) - len(videos)
    print(f"{len(videos)} videos extracted ({int((videos.get('n_faces', pd.Series(dtype=int)) > 0).sum())} with faces), "
          f"{len(frames)} face rows, {failed} failed -> {args.out}")
    return 0


def _check_train_options(args) -> None:
    """Refuse the ``train`` option combinations that were never measured."""
    if args.self_blended_rounds is not None and not args.self_blended:
        raise ValueError("--self-blended-rounds needs --self-blended only|add")
    if args.eval_features and args.self_blended:
        raise ValueError("--eval-features is not supported with --self-blended")
    if args.by_worst and not args.augment:
        raise ValueError("--by-worst needs --augment DIR (the worst condition is a platform re-encode)")
    if args.by_worst and (args.fusion or args.search == "auto"):
        raise ValueError("--by-worst is not supported with --fusion or --search auto (not measured)")
    if args.augment and args.self_blended:
        raise ValueError("--augment is not supported with --self-blended")
    if args.search != "full" and args.self_blended:
        raise ValueError(f"--search {args.search} is not supported with --self-blended "
                         "(measured with the full search only)")


def cmd_train(args) -> int:
    # imported here: training's modules (scikit-learn, scipy.stats) cost ~0.8 s of every command's start-up
    from . import training

    _check_train_options(args)
    n_jobs = max(1, int(args.jobs or 1))
    if args.self_blended:
        m = training.train_self_blended(args.features, args.out, mode=args.self_blended,
                                        sbi_dir=args.self_blended_dir, workers=args.workers, seed=args.seed,
                                        quick=args.quick, name=args.name, version=args.version, drop=tuple(args.drop),
                                        columns=args.columns, rounds=args.self_blended_rounds, n_jobs=n_jobs)
    else:
        m = training.train(args.features, args.out, name=args.name, version=args.version, seed=args.seed,
                           quick=args.quick, fusion=args.fusion, drop=tuple(args.drop), columns=args.columns,
                           eval_features=args.eval_features, augment=args.augment, workers=args.workers,
                           search=args.search, n_jobs=n_jobs, by_worst=args.by_worst)
    h = m.card["metrics"]["video"]
    print(f"saved {args.out}: out-of-fold video AUC {h['auc']:.3f} (95% CI {h['auc_ci']}), "
          f"EER {h['eer']:.3f}, threshold {m.threshold:+.4f}")
    for k, v in m.card["metrics"]["subsets"].items():
        print(f"  {k}: AUC {v['auc']:.3f} ({v['n_real']} real, {v['n_fake']} fake)")
    return 0


def cmd_evaluate(args) -> int:
    # imported here: training's modules (scikit-learn, scipy.stats) cost ~0.8 s of every command's start-up
    from . import training

    r = training.evaluate_manifest(args.manifest, args.model, args.out, args.features, args.frames, args.workers)
    o = r["video"]["overall"]
    print(f"{o.get('n')} videos: AUC {o.get('auc')}, EER {o.get('eer')}; FAR/FRR at threshold "
          f"{r['threshold']:+.4f}: {o['metrics'].get('far')} / {o['metrics'].get('frr')} -> {args.out}")
    return 0
def flag_rate_threshold(model, rate: float) -> tuple[float, str]:
    """(threshold, one-line description) of ``scan --flag-rate``: the threshold flagging at
    most ``rate`` of the genuine videos of the model's stored evaluation
    (``<model>/evaluation/scores.csv``, out-of-fold scores).  ValueError when the model has
    no stored evaluation or ``rate`` is not in [0, 1]."""
    # imported here: scikit-learn's metrics (with scipy.stats) cost ~0.6 s of every command's start-up
    from .evaluation import target_threshold
    from .metrics import metrics_at_threshold

    path = Path(model.path or ".") / EVALUATION_DIR / "scores.csv" if model is not None else None
    if path is None or not model.path or not path.is_file():
        where = f"the model at {model.path}" if model is not None and model.path else "no model"
        raise ValueError(f"--flag-rate needs the model's stored evaluation ({EVALUATION_DIR}/scores.csv, its "
                         f"out-of-fold scores), and {where} has none: train it with 'deepfake-detector train'")
    df = pd.read_csv(path)
    if not {"label", "score"} <= set(df.columns):
        raise ValueError(f"{path} lacks the 'label' and 'score' columns")
    t = target_threshold(df, frr=rate)
    s = pd.to_numeric(df["score"], errors="coerce")
    ok = s.notna().to_numpy()
    c = metrics_at_threshold(df["label"][ok].to_numpy(), s[ok].to_numpy(dtype=float), t)
    n_real, n_fake, fp, fn = c["n_real"], c["n_fake"], c["confusion"]["fp"], c["confusion"]["fn"]
    return t, (f"flag threshold {t:+.4f} (instead of the model's {model.threshold:+.4f}); on the stored evaluation it "
               f"flags {fp} of {n_real} genuine videos ({100 * fp / n_real:.1f} %) and misses {fn} of {n_fake} fakes "
               f"({100 * fn / n_fake:.1f} %)")


def cmd_scan(args) -> int:
    model = _load_model_or_none(args.model, quiet=False)
    command = "deepfake-detector " + " ".join(sys.argv[1:]) if sys.argv and sys.argv[0] else "scan"
    flag = None
    if args.flag_rate is not None:
        try:
            flag, text = flag_rate_threshold(model, args.flag_rate)
        except ValueError as e:
            print(f"error: {e}", file=sys.stderr)
            return 1
        print(text, file=sys.stderr)
    try:
        s = scan(args.inputs, args.out, model=model, n_frames=args.frames, workers=args.workers,
                 scheduler=args.scheduler, retry_failed=args.retry_failed, verify_hash=args.verify_hash,
                 timeout_s=args.timeout, max_memory_mb=args.max_memory, tasks_per_worker=args.tasks_per_worker,
                 progress=not args.no_progress, command=command, flag_threshold=flag, sampling=args.sampling)
    except (ScanError, ScanLockedError, sqlite3.Error) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(f"scanned {s.line()}", file=sys.stderr)
    if s.total == 0:
        print("error: no video or image files found in the inputs", file=sys.stderr)
        return 1
    if args.top:
        print(report_text(args.out, top=args.top))
    return 0


def cmd_report(args) -> int:
    if args.csv or args.parquet:
        n = export(args.db, args.csv, args.parquet, top=args.top if args.top_given else None,
                   include_all=args.all)
        print(f"wrote {n} rows to {args.csv or args.parquet}", file=sys.stderr)
        return 0
    print(report_text(args.db, top=args.top))
    return 0


class _TopAction(argparse.Action):
    """``--top`` that also notes it was given (``top_given``): with an export, only then is it a limit."""

    def __call__(self, parser, namespace, values, option_string=None):
        setattr(namespace, self.dest, values)
        namespace.top_given = True


def _add_scan_command(sub) -> None:
    s = sub.add_parser(
        "scan", help="analyse many videos/images into a resumable SQLite results database",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=(
            "Analyse every video and image of the inputs, in parallel, into an SQLite database\n"
            "(one row per file, committed as each finishes; re-running the command resumes).\n\n"
            "INPUT: a folder (walked recursively, following symlinks, loops cut), a file, or a .txt/.csv\n"
            "list of paths (CSV: a 'path' column; relative paths are relative to the list's folder).\n"
            f"In folders, videos ({' '.join(VIDEO_EXTENSIONS)})\n"
            f"and images ({' '.join(IMAGE_EXTENSIONS)}) are scanned; other files are ignored.\n\n"
            "Files already done with the same content (SHA-256) and the same model version and --frames\n"
            "are skipped; failed ones only with --retry-failed. Identical files are analysed once and\n"
            "recorded as duplicates."))
    s.add_argument("inputs", nargs="+", metavar="INPUT", help="folder, file, or .txt/.csv list of paths")
    s.add_argument("--out", required=True, metavar="DB", help="SQLite results database (created or resumed)")
    s.add_argument("--model", help="model folder (default: models/default; none there: verdicts 'unscored')")
    s.add_argument("--frames", type=int, default=DEFAULT_FRAMES, help="frames sampled per video (default %(default)s)")
    _add_sampling(s)
    s.add_argument("--workers", type=int, default=None,
                   help="local worker processes (default: one per core); ignored with --scheduler")
    s.add_argument("--scheduler", metavar="tcp://HOST:PORT",
                   help="run on an existing Dask cluster (this process still writes the database)")
    s.add_argument("--retry-failed", action="store_true", help="analyse again the files that failed before")
    s.add_argument("--verify-hash", action="store_true",
                   help="re-hash files before skipping them even when size and mtime are unchanged")
    s.add_argument("--timeout", type=float, default=None, metavar="S",
                   help="kill a local worker that spends more than S seconds on one file (file marked failed)")
    s.add_argument("--max-memory", type=float, default=DEFAULT_MAX_MEMORY_MB, metavar="MB",
                   help="kill a local worker whose resident memory exceeds MB (file marked failed; "
                        "default %(default)s, 0 = no limit)")
    s.add_argument("--tasks-per-worker", type=int, default=DEFAULT_TASKS_PER_WORKER, metavar="N",
                   help="replace each local worker process after N files (default %(default)s)")
    s.add_argument("--flag-rate", type=float, default=None, metavar="RATE",
                   help="decide fake/real at the threshold that flags at most RATE (a fraction: 0.01 = 1 %%) of "
                        "the genuine videos of the model's stored evaluation (its out-of-fold scores), instead of "
                        "the model's threshold: the verdict is 'fake' at or above it and 'real' below (no "
                        "'inconclusive'); the likelihood ratio is kept as the model states it. The threshold is "
                        "printed and recorded in each row. Refused when the model has no stored evaluation")
    s.add_argument("--top", type=int, default=0, metavar="K", help="print the K most suspicious files at the end")
    s.add_argument("--no-progress", action="store_true", help="no progress bar")
    s.set_defaults(func=cmd_scan)


def _add_report_command(sub) -> None:
    r = sub.add_parser("report", help="ranked suspects of a scan database; export CSV/Parquet",
                       description="Print the scan's counts, the top suspects (ranked by score - threshold) and "
                                   "the failures, or export the ranked table.")
    r.add_argument("db", help="results database written by 'scan'")
    r.add_argument("--top", type=int, default=20, action=_TopAction, metavar="K",
                   help="how many suspects to print (default %(default)s); with --csv/--parquet: export only K")
    g = r.add_mutually_exclusive_group()
    g.add_argument("--csv", metavar="FILE", help="export the ranked table as CSV")
    g.add_argument("--parquet", metavar="FILE", help="export the ranked table as Parquet")
    r.add_argument("--all", action="store_true", help="export every file (unscored, no-face, failed too)")
    r.set_defaults(func=cmd_report, top_given=False)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="deepfake-detector", description=__doc__.splitlines()[0])
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    p.add_argument("--verbose", action="store_true",
                   help="let the decoders' and image libraries' own warnings through to stderr")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("inspect", help="analyse one video or image")
    s.add_argument("video")
    s.add_argument("--model", help="model folder (default: models/default)")
    s.add_argument("--frames", type=int, default=DEFAULT_FRAMES, help="frames sampled over the video")
    _add_sampling(s)
    s.add_argument("--json", action="store_true", help="print one JSON object")
    s.add_argument("--no-features", action="store_true", help="leave per-face feature values out of the JSON")
    s.add_argument("--all-features", action="store_true",
                   help="compute every feature family (default with a model: only the families it reads, "
                        "the same score in less time)")
    s.add_argument("--report", metavar="FILE.html",
                   help="also write the case report (self-contained HTML, as the dashboard's download) to this "
                        "file; it measures every feature family, as with --all-features")
    s.set_defaults(func=cmd_inspect)

    for register in (_add_extract, _add_train, _add_evaluate, _add_scan_command, _add_report_command):
        register(sub)
    return p


#: What ``--sampling`` chooses between (:data:`detector.sampling.SAMPLINGS`).
SAMPLING_HELP = ("which frames: spread evenly, runs after keyframes, or spread over the fronts of the "
                 "keyframe intervals")


def _add_sampling(s) -> None:
    s.add_argument("--sampling", choices=SAMPLINGS, default=None,
                   help=f"{SAMPLING_HELP} (default: the model's; another one than the model was trained on is refused)")


def _add_extract(sub) -> None:
    s = sub.add_parser("extract", help="extract features of every video in a manifest (resumable)")
    s.add_argument("--manifest", required=True)
    s.add_argument("--out", required=True)
    s.add_argument("--frames", type=int, default=DEFAULT_FRAMES)
    s.add_argument("--workers", type=int, default=None, help="worker processes (default: one per core)")
    s.add_argument("--limit", type=int, default=0, help="only the first N rows (for trials)")
    s.add_argument("--sampling", choices=SAMPLINGS, default=DEFAULT_SAMPLING,
                   help=f"{SAMPLING_HELP} (default %(default)s; recorded in extract.json, a model trained on these "
                        "features scans only with the same)")
    s.add_argument("--families", default=None, metavar="A,B",
                   help="comma-separated feature families to measure (default: the default families; "
                        f"the opt-in {', '.join(OPT_IN_FAMILIES)} only when named)")
    s.set_defaults(func=cmd_extract)


def _add_train(sub) -> None:
    s = sub.add_parser("train", help="train, cross-validate and save an SVM model from extracted features")
    s.add_argument("--features", required=True, help="folder written by 'extract'")
    s.add_argument("--out", required=True, help="model folder, e.g. models/default")
    s.add_argument("--name", default=None)
    s.add_argument("--version", default="1")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--quick", action="store_true", help="a small grid (for trials)")
    s.add_argument("--jobs", type=int, default=1, help="parallel jobs for the grid searches (same result)")
    s.add_argument("--drop", action="append", default=[], choices=list(FAMILIES), metavar="FAMILY",
                   help="leave a feature family out (repeatable), e.g. --drop flick for a cheaper scan")
    s.add_argument("--columns", default=None, metavar="SPEC",
                   help="the feature columns offered to the model: 'all', 'grid' (block-grid strengths only), "
                        "'block-mean' (the block family's track means: the shipped model's), 'grid-mean', or a "
                        "regular expression on column names; default: 'grid-mean' with --self-blended only (measured "
                        "better on real fakes, README), else all")
    s.add_argument("--eval-features", default=None, metavar="DIR",
                   help="features of the same videos extracted with the frames the scanner samples (e.g. "
                        "--frames 16 when --features has 32): the out-of-fold models trained on --features score "
                        "these, so the evaluation is that of the deployed setting (README: training on more "
                        "frames than are scanned)")
    s.add_argument("--fusion", action="store_true",
                   help="average per-family SVMs (the best two families of the inner CV) instead of one SVM "
                        "over the families the grid picks (measured: not better overall, see README)")
    s.add_argument("--self-blended", choices=["only", "add"], default=None,
                   help="add self-blended fakes of the real videos (detector/selfblend.py): 'only' trains on the "
                        "real videos + their self-blended fakes (no real fakes needed), 'add' keeps the dataset's fakes")
    s.add_argument("--self-blended-dir", default=None, help="where to write them (default: FEATURES/self_blended)")
    s.add_argument("--self-blended-rounds", type=int, default=None, metavar="N",
                   help="self-blended fakes (and controls) made of each real video, each with other random "
                        "blend parameters (default: detector.selfblend.DEFAULT_ROUNDS)")
    s.add_argument("--augment", default=None, metavar="DIR",
                   help="add re-encoded copies of the training videos (the platform profiles of "
                        "detector.degrade.PLATFORM_PROFILES: H.264 CRF 23 / 28, half size, VP9) to the training parts, "
                        "made in DIR if missing: a model for re-encoded platform video")
    s.add_argument("--search", choices=list(SEARCH_CHOICES), default="full",
                   help="the inner grid search: 'full' (standardised columns, k best, RBF or linear SVM), "
                        "'compact' (median / IQR scaling, every column, RBF only; README, 'A smaller search') "
                        "or 'auto' (the search chosen among eight by a nested CV of the training data: the "
                        "shipped model's; about 8x slower)")
    s.add_argument("--by-worst", action="store_true",
                   help="with --augment: choose the column set (block-grid means, every other track mean, or all "
                        "means; detector.procedure.CANDIDATES) by its worst condition (originals and each platform "
                        "re-encode) in a nested CV inside every training part: the shipped model's procedure")
    s.add_argument("--workers", type=int, default=2, help="worker processes for --self-blended and --augment (default 2)")
    s.set_defaults(func=cmd_train)


def _add_evaluate(sub) -> None:
    e = sub.add_parser("evaluate", help="score a labelled manifest with a model and write scores + metrics")
    e.add_argument("--manifest", required=True)
    e.add_argument("--model", default=None, help="model folder (default: models/default)")
    e.add_argument("--out", required=True)
    e.add_argument("--features", default=None, help="reuse/extract features in this folder")
    e.add_argument("--frames", type=int, default=DEFAULT_FRAMES)
    e.add_argument("--workers", type=int, default=None)
    e.set_defaults(func=cmd_evaluate)


def main(argv: list[str] | None = None, scoring: ScoringProcess | None = None) -> int:
    """Run a command line.  ``scoring``: a scoring process already loading a model file
    (:mod:`detector.launch`), used by ``inspect`` if it loads that file, stopped at the end."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    keep_freed_memory()  # analyses reuse their freed frame-sized blocks (detector.memory)
    warnings.filterwarnings("ignore", category=RuntimeWarning)
    try:
        args = build_parser().parse_args(argv)
    except SystemExit:
        if scoring is not None:
            scoring.close()
        raise
    args.scoring = scoring
    if hasattr(sys.stdout, "reconfigure"):  # a file name that is not valid UTF-8 prints escaped
        sys.stdout.reconfigure(errors="backslashreplace")
    try:
        with contextlib.nullcontext() if args.verbose else quiet_stderr():
            return int(args.func(args) or 0)
    except (VideoError, ModelError, FileNotFoundError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    finally:
        if scoring is not None:
            scoring.close()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
