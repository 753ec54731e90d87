"""Dataset layouts: list the videos of a public deepfake dataset, in its own folder
layout, as a manifest frame (see :mod:`detector.datasets`).

Adapters (``from_ffpp``, ``from_celebdf``, ``from_dfdc``, ``from_dftimit``,
``from_folders``) scan a dataset's folders and return a frame with the standard manifest
columns and absolute paths; :func:`build_manifest` picks the adapter automatically.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import asdict
from pathlib import Path
from typing import Callable, Iterable

import pandas as pd

from .datasets import ManifestProblem, fill_defaults, normalize_label
from .video import VIDEO_EXTENSIONS

_FFPP_COMPRESSIONS = {"raw", "c0", "c23", "c40"}


def from_ffpp(root: str | os.PathLike) -> pd.DataFrame:
    """List FaceForensics++ videos.

    Layout: ``original_sequences/<youtube|actors>/<raw|c0|c23|c40>/videos/*``
    (real, method ``original-<subset>``) and
    ``manipulated_sequences/<Method>/<raw|c0|c23|c40>/videos/*`` (fake, method
    = folder name, e.g. Deepfakes, FaceSwap, Face2Face, NeuralTextures,
    FaceShifter, DeepFakeDetection). ``masks`` folders are ignored.

    Grouping: a fake ``TTT_SSS`` links the ids ``TTT`` (target) and ``SSS``
    (source); ids connected through fakes form one group named
    ``ffpp-<smallest id>``, so a real ``TTT`` is in group ``ffpp-TTT`` unless
    linked to a smaller id. ``original_id`` is ``TTT`` for fakes.

    DeepFakeDetection fakes (``01_02__scene__HASH``) are linked to their
    target's original ``01__scene`` only, since the source actor's video is
    not identified by the name; the same actor can therefore appear in
    several groups.
    """
    base = _as_dir(root)
    entries = []  # (file, label, method, compression, nodes, original_id)
    for label, top in (("real", "original_sequences"), ("fake", "manipulated_sequences")):
        for sub in _subdirs(base / top):
            method = f"original-{sub.name}" if label == "real" else sub.name
            for comp in _subdirs(sub):
                if comp.name.lower() not in _FFPP_COMPRESSIONS:
                    continue
                for f in _videos(comp / "videos"):
                    nodes, original = _ffpp_ids(f.stem)
                    entries.append(
                        (f, label, method, comp.name, nodes, original if label == "fake" else "")
                    )
    if not entries:
        raise ValueError(f"no FaceForensics++ videos found under {base}")
    group_of = _components([e[4] for e in entries])
    return _frame(
        {
            "path": f,
            "label": label,
            "group": "ffpp-" + group_of[nodes[0]],
            "method": method,
            "compression": comp,
            "dataset": "ffpp",
            "original_id": original,
        }
        for f, label, method, comp, nodes, original in entries
    )


def from_celebdf(root: str | os.PathLike) -> pd.DataFrame:
    """List Celeb-DF (v1/v2) videos.

    Layout: ``Celeb-real/*`` (real, method ``celeb-real``), ``YouTube-real/*``
    (real, ``youtube-real``) and ``Celeb-synthesis/*`` (fake,
    ``celeb-synthesis``).

    Grouping: ``id0_0000`` belongs to identity ``id0``; a fake
    ``id0_id1_0000`` (target ``id0``, source ``id1``) joins identities
    ``id0`` and ``id1``. Connected identities form one group
    ``celebdf-<smallest id>``; each YouTube-real video is its own group
    ``celebdf-yt-<stem>``. On the full dataset the identity graph may be
    highly connected, which gives few, large groups.

    Column ``split`` is ``test`` for videos listed in
    ``List_of_testing_videos.txt`` (lines ``<1 real|0 fake> <relative path>``),
    else ``train``. ``original_id`` is ``id0_0000`` for fakes.
    """
    base = _as_dir(root)
    test = set()
    listing = base / "List_of_testing_videos.txt"
    if listing.is_file():
        for line in listing.read_text().splitlines():
            parts = line.split()
            if parts:
                test.add(parts[-1].replace("\\", "/"))
    entries = []  # (file, label, method, nodes, original_id)
    for folder, label, method in (
        ("Celeb-real", "real", "celeb-real"),
        ("YouTube-real", "real", "youtube-real"),
        ("Celeb-synthesis", "fake", "celeb-synthesis"),
    ):
        for f in _videos(base / folder):
            if folder == "YouTube-real":
                nodes, original = [f"yt-{f.stem}"], ""
            else:
                parts = f.stem.split("_")
                nodes = [p for p in parts if p.startswith("id")] or [f.stem]
                original = f"{nodes[0]}_{parts[-1]}" if label == "fake" else ""
            entries.append((f, label, method, nodes, original))
    if not entries:
        raise ValueError(f"no Celeb-DF videos found under {base}")
    group_of = _components([e[3] for e in entries])
    return _frame(
        {
            "path": f,
            "label": label,
            "group": "celebdf-" + group_of[nodes[0]],
            "method": method,
            "compression": "unknown",
            "dataset": "celebdf",
            "split": "test" if f"{f.parent.name}/{f.name}" in test else "train",
            "original_id": original,
        }
        for f, label, method, nodes, original in entries
    )


def from_dfdc(root: str | os.PathLike) -> pd.DataFrame:
    """List DFDC videos from ``metadata.json`` files.

    Every ``metadata.json`` under ``root`` (e.g. one per
    ``dfdc_train_part_N`` folder) maps ``"file.mp4"`` to
    ``{"label": "FAKE"|"REAL", "original": "x.mp4"|null, "split": ...}``;
    videos are looked up next to their ``metadata.json``.

    Group: ``dfdc-<stem of the original>`` for fakes, ``dfdc-<own stem>`` for
    reals. Method ``dfdc``; ``split`` from the metadata (``""`` if absent).
    Entries whose file is missing or whose label is unknown are skipped and
    listed in ``df.attrs["problems"]``. The public test set, labelled by a
    ``labels.csv`` instead, is not handled.
    """
    base = _as_dir(root)
    meta_files = sorted(base.rglob("metadata.json"))
    if not meta_files:
        raise ValueError(f"no DFDC metadata.json found under {base}")
    records, problems = [], []
    for meta in meta_files:
        try:
            entries = json.loads(meta.read_text())
        except json.JSONDecodeError as exc:
            raise ValueError(f"invalid JSON in {meta}: {exc}") from exc
        if not isinstance(entries, dict):
            raise ValueError(f"{meta} should map file names to records")
        for name, info in entries.items():
            info = info if isinstance(info, dict) else {}
            f = meta.parent / name
            label = normalize_label(info.get("label"))
            reason = (
                f"unknown label {info.get('label')!r}" if label is None
                else "" if f.is_file() else "file not found"
            )
            if reason:
                problems.append(asdict(ManifestProblem(len(problems) + len(records), str(f), reason)))
                continue
            original = info.get("original") or ""
            original_stem = Path(original).stem if label == "fake" and original else ""
            records.append(
                {
                    "path": f,
                    "label": label,
                    "group": "dfdc-" + (original_stem or f.stem),
                    "method": "dfdc",
                    "compression": "unknown",
                    "dataset": "dfdc",
                    "split": str(info.get("split") or ""),
                    "original_id": original_stem,
                }
            )
    if not records:
        raise ValueError(f"no DFDC videos found under {base} ({len(problems)} problem(s))")
    df = _frame(records)
    df.attrs["problems"] = problems
    return df


def from_dftimit(root: str | os.PathLike) -> pd.DataFrame:
    """List DeepfakeTIMIT videos.

    Layout: ``higher_quality/<subject>/*`` and ``lower_quality/<subject>/*``
    are fakes (method ``deepfaketimit``, compression ``hq``/``lq``). Group =
    ``dftimit-<subject>``.

    DeepfakeTIMIT ships no real videos (they come from VidTIMIT, distributed
    as image frames). Real videos are listed only if a folder ``real`` or
    ``vidtimit`` (any case) holds ``<subject>/**/<video>`` files (method
    ``vidtimit``, same subject groups); otherwise only fakes are returned.
    """
    base = _as_dir(root)
    records = []
    for folder, comp in (("higher_quality", "hq"), ("lower_quality", "lq")):
        for subject in _subdirs(base / folder):
            for f in _videos(subject):
                records.append(_dftimit_record(f, "fake", "deepfaketimit", comp, subject.name))
    real_root = _child_dir(base, "real") or _child_dir(base, "vidtimit")
    if real_root is not None:
        for subject in _subdirs(real_root):
            for f in _videos(subject, recursive=True):
                records.append(_dftimit_record(f, "real", "vidtimit", "unknown", subject.name))
    if not records:
        raise ValueError(f"no DeepfakeTIMIT videos found under {base}")
    return _frame(records)


def _dftimit_record(f: Path, label: str, method: str, comp: str, subject: str) -> dict:
    return {
        "path": f,
        "label": label,
        "group": f"dftimit-{subject}",
        "method": method,
        "compression": comp,
        "dataset": "dftimit",
        "subject": subject,
    }


def from_folders(root: str | os.PathLike) -> pd.DataFrame:
    """List videos in plain ``real/`` and ``fake/`` folders.

    All video files (:data:`detector.video.VIDEO_EXTENSIONS`, any case) below
    ``real/`` and ``fake/`` (folder names in any case) are listed. Group =
    file stem. Method = first sub-folder below ``real/``/``fake/`` for nested
    files (``fake/FaceSwap/x.mp4`` -> ``FaceSwap``), else ``unknown``.
    Dataset = name of ``root``.
    """
    base = _as_dir(root)
    records = []
    for label in ("real", "fake"):
        folder = _child_dir(base, label)
        if folder is None:
            continue
        for f in _videos(folder, recursive=True):
            rel = f.relative_to(folder).parts
            records.append(
                {
                    "path": f,
                    "label": label,
                    "group": f.stem,
                    "method": rel[0] if len(rel) > 1 else "unknown",
                    "compression": "unknown",
                    "dataset": base.name or "unknown",
                }
            )
    if not records:
        raise ValueError(f"no videos found in real/ or fake/ under {base}")
    return _frame(records)


ADAPTERS: dict[str, Callable[[str | os.PathLike], pd.DataFrame]] = {
    "ffpp": from_ffpp,
    "celebdf": from_celebdf,
    "dfdc": from_dfdc,
    "dftimit": from_dftimit,
    "folders": from_folders,
}


def detect_layout(root: str | os.PathLike) -> str:
    """Guess the dataset layout of ``root`` (a key of :data:`ADAPTERS`).

    Checked in order: ``original_sequences``/``manipulated_sequences`` ->
    ffpp; ``Celeb-real``/``Celeb-synthesis``/``YouTube-real`` -> celebdf;
    ``higher_quality``/``lower_quality`` -> dftimit; ``metadata.json`` in
    ``root`` or a direct sub-folder -> dfdc; ``real``/``fake`` -> folders.
    """
    base = _as_dir(root)
    names = {p.name for p in base.iterdir() if p.is_dir()}
    lower = {n.lower() for n in names}
    if names & {"original_sequences", "manipulated_sequences"}:
        return "ffpp"
    if names & {"Celeb-real", "Celeb-synthesis", "YouTube-real"}:
        return "celebdf"
    if names & {"higher_quality", "lower_quality"}:
        return "dftimit"
    if (base / "metadata.json").is_file() or any(base.glob("*/metadata.json")):
        return "dfdc"
    if lower & {"real", "fake"}:
        return "folders"
    raise ValueError(
        f"cannot detect the dataset layout of {base}; pass layout= one of {sorted(ADAPTERS)}"
    )


def build_manifest(root: str | os.PathLike, layout: str = "auto") -> pd.DataFrame:
    """Build a manifest frame for a dataset folder.

    Parameters
    ----------
    root : str or path-like
        Dataset root folder.
    layout : str, default "auto"
        ``"auto"`` (see :func:`detect_layout`) or a key of :data:`ADAPTERS`.

    Returns
    -------
    pandas.DataFrame
        Manifest frame with absolute paths (``path`` == ``abs_path``).
    """
    if layout == "auto":
        layout = detect_layout(root)
    if layout not in ADAPTERS:
        raise ValueError(f"unknown layout {layout!r}; choose 'auto' or one of {sorted(ADAPTERS)}")
    return ADAPTERS[layout](root)


# --------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------


def _as_dir(root: str | os.PathLike) -> Path:
    base = Path(root).expanduser().absolute()
    if not base.is_dir():
        raise ValueError(f"dataset root is not a directory: {base}")
    return base


def _subdirs(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_dir())


def _child_dir(folder: Path, name: str) -> Path | None:
    for p in _subdirs(folder):
        if p.name.lower() == name.lower():
            return p
    return None


def _videos(folder: Path, recursive: bool = False) -> list[Path]:
    if not folder.is_dir():
        return []
    found = folder.rglob("*") if recursive else folder.iterdir()
    return sorted(p for p in found if p.suffix.lower() in VIDEO_EXTENSIONS and p.is_file())


def _natural_key(text: str) -> tuple:
    return tuple(int(t) if t.isdigit() else t for t in re.split(r"(\d+)", text))


def _ffpp_ids(stem: str) -> tuple[list[str], str]:
    """Return (linked ids, original id) for an FF++ file stem."""
    if "__" in stem:  # DeepFakeDetection / actors: 01__scene or 01_02__scene__HASH
        parts = stem.split("__")
        target = parts[0].split("_")[0]
        original = f"{target}__{parts[1]}" if len(parts) > 1 else stem
        return [original], original
    ids = stem.split("_")
    return ids, ids[0]


def _components(node_lists: Iterable[list[str]]) -> dict[str, str]:
    """Union-find: map every node to the smallest node of its component."""
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for nodes in node_lists:
        first = find(nodes[0])
        for other in nodes[1:]:
            a, b = find(other), first
            if a != b:
                lo, hi = sorted((a, b), key=_natural_key)
                parent[hi] = lo
                first = lo
    return {x: find(x) for x in parent}


def _frame(records: Iterable[dict]) -> pd.DataFrame:
    df = pd.DataFrame(list(records))
    df["path"] = [os.path.abspath(p) for p in df["path"]]
    df["abs_path"] = df["path"]
    df = df.sort_values("path", kind="stable").reset_index(drop=True)
    return fill_defaults(df)
