"""Command-line interface: ``deepfake-detector COMMAND`` (also ``python -m detector``).

Each command maps to one module; this file only parses arguments and prints.
Exit codes: 0 success, 1 unreadable input or failed command, 2 usage error.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import warnings
from pathlib import Path

from .analysis import DEFAULT_FRAMES
from .quiet import quiet_stderr


def _load_model_or_none(path: str | None, quiet: bool = False):
    from .model import DEFAULT_MODEL_DIR, ModelError, load_model

    if path is None and not (DEFAULT_MODEL_DIR / "card.json").exists():
        if not quiet:
            print(f"note: no model loaded (none at {DEFAULT_MODEL_DIR}); faces and features only", file=sys.stderr)
        return None
    try:
        return load_model(path)
    except ModelError as e:
        if path is not None:
            raise
        if not quiet:
            print(f"note: no model loaded ({e}); faces and features only", file=sys.stderr)
        return None


def cmd_inspect(args) -> int:
    from .analysis import analyze
    from .video import probe

    info = probe(args.video)  # unreadable input fails first, with its own message
    model = _load_model_or_none(args.model, quiet=False)
    fams = "all" if args.all_features or model is None else "model"
    a = analyze(args.video, model=model, n_frames=args.frames, info=info, families=fams)
    if args.json:
        print(json.dumps(a.to_dict(features=not args.no_features)))
        return 0
    i = a.info
    print(f"file:      {i.path}")
    print(f"sha256:    {i.sha256}")
    pix = f" {i.pix_fmt}" if i.pix_fmt else ""
    print(f"video:     {i.kind} {i.container}/{i.codec}{pix} {i.width}x{i.height} {i.fps:.2f} fps, "
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
    print(f"verdict:   {a.verdict.upper()}{sc}")
    t = a.timings
    print(f"time:      {t['total']:.2f} s (decode {t['decode']:.2f}, faces {t['faces']:.2f}, "
          f"features {t['features']:.2f}, score {t['score']:.2f})")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="deepfake-detector", description=__doc__.splitlines()[0])
    from . import __version__

    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    p.add_argument("--verbose", action="store_true",
                   help="let the decoders' and image libraries' own warnings through to stderr")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("inspect", help="analyse one video or image")
    s.add_argument("video")
    s.add_argument("--model", help="model folder (default: models/default)")
    s.add_argument("--frames", type=int, default=DEFAULT_FRAMES, help="frames sampled over the video")
    s.add_argument("--json", action="store_true", help="print one JSON object")
    s.add_argument("--no-features", action="store_true", help="leave per-face feature values out of the JSON")
    s.add_argument("--all-features", action="store_true",
                   help="compute every feature family (default with a model: only the families it reads, "
                        "the same score in less time)")
    s.set_defaults(func=cmd_inspect)

    for register in _extra_commands():
        register(sub)
    return p


def _extra_commands():
    """Commands that live with their own stage (training, evaluation, scanning...)."""
    out = []
    for mod in ("extraction", "training", "scan"):
        try:
            m = __import__(f"{__package__}.{mod}", fromlist=["register_cli"])
        except ModuleNotFoundError as e:
            if e.name != f"{__package__}.{mod}":
                raise
            continue
        if hasattr(m, "register_cli"):
            out.append(m.register_cli)
    return out


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    warnings.filterwarnings("ignore", category=RuntimeWarning)
    args = build_parser().parse_args(argv)
    if hasattr(sys.stdout, "reconfigure"):  # a file name that is not valid UTF-8 prints escaped
        sys.stdout.reconfigure(errors="backslashreplace")
    from .model import ModelError
    from .video import VideoError

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


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
