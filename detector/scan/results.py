"""The scan's results read back: the ranking of suspects, the report text, CSV/Parquet export.

:func:`order_by_suspicion` is *the* ranking, shared by ``deepfake-detector report`` and
the dashboard's Batch results page: rows with a score first, by ``margin = score -
threshold`` (higher = more likely fake), ties by path; then the rows without a score
(unscored, no-face, failed) by status, verdict and path.

Tables show a file name that is not valid UTF-8 with ``\\xNN`` escapes
(:func:`~detector.scan.db.display_path`).
"""

from __future__ import annotations

import os

import pandas as pd

from .db import ResultsDB, display_path

#: Columns of the ranked table first, in this order (the others follow).
FRONT_COLUMNS = ("rank", "path", "verdict", "score", "llr", "caution", "threshold", "margin", "status", "duplicate_of",
                 "n_faces", "n_tracks", "duration_s", "sha256", "error", "model_version", "n_frames")


def order_by_suspicion(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` ordered most suspicious first, with a ``margin`` column (see the module docstring).

    Parameters
    ----------
    df : DataFrame
        Result rows with ``path`` and ``score`` columns; ``threshold``, ``status`` and
        ``verdict`` are used when present.  A row without a threshold (e.g. a CSV that
        has none) gets ``margin = score``: the SVM's own decision boundary, 0.

    Returns
    -------
    DataFrame
        The same rows, scored ones first, index reset; any ``rank`` or ``margin`` column
        of the input (an exported table read back) is recomputed or dropped.
    """
    df = df.drop(columns=[c for c in ("rank", "margin") if c in df.columns])
    score = pd.to_numeric(df["score"], errors="coerce")
    threshold = pd.to_numeric(df["threshold"], errors="coerce").fillna(0.0) if "threshold" in df else 0.0
    df = df.assign(margin=score - threshold)
    has = score.notna()
    scored = df[has].sort_values(["margin", "path"], ascending=[False, True], kind="stable")
    rest_by = [c for c in ("status", "verdict", "path") if c in df.columns]
    rest = df[~has].sort_values(rest_by, kind="stable")
    return pd.concat([scored, rest]).reset_index(drop=True)


def ranked(db_path: str | os.PathLike, include_all: bool = False, setting: str | None = "latest") -> pd.DataFrame:
    """The results as a DataFrame, most suspicious first (see :func:`ranked_rows`)."""
    return ranked_rows(db_path, include_all, setting)[0]


def _select_setting(df: pd.DataFrame, runs: pd.DataFrame, setting: str | None) -> tuple[pd.DataFrame, str]:
    """The rows of one setting (model version, frames) and a note, when the database holds several."""
    if not len(df) or setting is None:
        return df, ""
    settings = df[["model_version", "n_frames"]].drop_duplicates()
    if len(settings) < 2:
        return df, ""
    if setting == "latest":
        last = runs.dropna(subset=["model_version"]).iloc[-1] if len(runs) else df.iloc[-1]
        mv, nf = last["model_version"], int(last["n_frames"])
    else:
        mv, nf = setting, int(df.loc[df.model_version == setting, "n_frames"].iloc[-1])
    note = f"{len(settings)} settings in the database; showing {mv} with {nf} frames"
    return df[(df.model_version == mv) & (df.n_frames == nf)], note


def ranked_rows(db_path: str | os.PathLike, include_all: bool = False,
                setting: str | None = "latest") -> tuple[pd.DataFrame, pd.DataFrame, str]:
    """(ranked table, all rows of the setting, note).

    The ranked table holds the rows with a score, in :func:`order_by_suspicion` order,
    with ``rank`` 1, 2, ...; with ``include_all`` the unscored, no-face and failed rows
    follow (rank empty).  When the database holds several settings (model version,
    frames), ``setting="latest"`` keeps the one of the latest run, a model version keeps
    that one, None keeps all.
    """
    with ResultsDB(db_path, readonly=True) as db:
        df, note = _select_setting(db.frame(), db.runs(), setting)
    ordered = order_by_suspicion(df)
    n_scored = int(ordered["score"].notna().sum())
    out = ordered if include_all else ordered.head(n_scored)
    out = out.assign(rank=pd.array(list(range(1, n_scored + 1)) + [pd.NA] * (len(out) - n_scored), dtype="Int64"))
    out = out[list(FRONT_COLUMNS) + [c for c in out.columns if c not in FRONT_COLUMNS]]
    return out, df.assign(margin=df["score"] - df["threshold"]), note


def _suspect_lines(table: pd.DataFrame, top: int) -> list[str]:
    k = min(top, len(table))
    lines = [f"top {k} suspects (ranked by score - threshold, higher = more likely fake; "
             "log10 LR: + supports manipulation):",
             f"{'rank':>4}  {'margin':>7}  {'score':>7}  {'log10LR':>7}  {'verdict':<12} {'faces':>5} "
             f"{'dur_s':>6}  path"]
    for r in table.head(k).itertuples():
        dup = f"  (= {r.duplicate_of})" if isinstance(r.duplicate_of, str) and r.duplicate_of else ""
        dup += f"  [{r.caution}]" if isinstance(getattr(r, "caution", None), str) and r.caution else ""
        dur = f"{r.duration_s:6.1f}" if r.duration_s == r.duration_s and r.duration_s is not None else "     -"
        faces = "" if r.n_faces is None or r.n_faces != r.n_faces else int(r.n_faces)
        llr = f"{float(r.llr):+7.2f}" if pd.notna(r.llr) else "      -"
        lines.append(f"{int(r.rank):>4}  {r.margin:+7.3f}  {r.score:+7.3f}  {llr}  {str(r.verdict):<12} {faces:>5} "
                     f"{dur}  {r.path}{dup}")
    return lines


def report_text(db_path: str | os.PathLike, top: int = 20) -> str:
    """Summary counts, the ``top`` ranked suspects and the failure reasons, as text."""
    table, df, note = ranked_rows(db_path)
    lines = [f"{display_path(os.fsdecode(db_path))}: {len(df)} files"]
    if note:
        lines.append(f"note: {note}")
    if len(df):
        st = df["status"].value_counts().to_dict()
        vd = df.loc[df.status != "failed", "verdict"].value_counts().to_dict()
        lines.append("status:   " + ", ".join(f"{k} {v}" for k, v in sorted(st.items())))
        lines.append("verdicts: " + (", ".join(f"{k} {v}" for k, v in sorted(vd.items())) or "none"))
        lines.append("model:    " + ", ".join(sorted(df["model_version"].unique())) +
                     f"; {int(df['n_frames'].iloc[0])} frames sampled per video")
    lines.append("")
    if len(table):
        lines += _suspect_lines(table, top)
    elif len(df) and df["model_version"].str.startswith("none+").all():
        lines.append("no scored files (no model was loaded: verdicts are 'unscored'; rescan with --model)")
    elif len(df):
        lines.append("no scored files")
    failed = df[df.status == "failed"] if len(df) else df
    if len(failed):
        shown = max(top, 10)
        lines += ["", f"failed ({len(failed)}):"] + [f"  {r.path}: {r.error}" for r in failed.head(shown).itertuples()]
        if len(failed) > shown:
            lines.append(f"  ... {len(failed) - shown} more (export with --csv/--parquet --all)")
    return "\n".join(lines)


def export(db_path: str | os.PathLike, csv_path: str | None = None, parquet_path: str | None = None,
           top: int | None = None, include_all: bool = False) -> int:
    """Write the ranked table (top K if given) to CSV or Parquet; returns the row count."""
    table = ranked(db_path, include_all=include_all)
    if top:
        table = table.head(top)
    if csv_path:
        table.to_csv(csv_path, index=False)
    if parquet_path:
        table.to_parquet(parquet_path, index=False)
    return len(table)
