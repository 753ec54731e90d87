"""Evaluation of the loaded model, from its stored out-of-fold scores (nothing is re-run)."""

from __future__ import annotations

import streamlit as st

from detector.card import condition_label, frames_text
from detector.dashboard import evaluation_store, figures, models, texts
from detector.metrics import CONVENTION
from detector.model import CONDITION_SCORES_FILE, EVALUATION_DIR
import pages as ui

TITLE = "Evaluation"
PERCENT = st.column_config.NumberColumn(format="percent")
DECIMAL = st.column_config.NumberColumn(format="%.3f")

model, model_message, folder = ui.page_setup(TITLE)
st.title(TITLE)

ev, ev_error = ui.current_evaluation(folder)
if ev_error:
    st.error(f"The stored evaluation cannot be read: {ev_error}")
if ev is None:
    if not ev_error:
        st.info(f"No evaluation stored for the model at `{folder}` (expected `{EVALUATION_DIR}/scores.csv`). "
                "Training a model with `deepfake-detector train` writes it.")
    st.stop()

frames_note = frames_text(model.card.get("frames")) if model is not None else None
st.caption(f"Out-of-fold scores of {len(ev.scores)} videos stored with the model in `{folder}/{EVALUATION_DIR}`. "
           "Every number on this page is computed from them; no video is analysed again."
           + (f" Frames: {frames_note}." if frames_note else ""))
with st.container(border=True):
    st.markdown("**Convention**\n\n" + CONVENTION)

summary = ui.evaluation_summary(str(folder), models.folder_stamp(folder), ev)
frames = evaluation_store.frame_level_summary(ev)
c = st.columns(4)
c[0].metric("ROC AUC (videos)", f"{summary['auc']:.3f}",
            help=f"95 % confidence interval ({summary['auc_ci_source']}): "
                 f"{summary['auc_ci'][0]:.3f}–{summary['auc_ci'][1]:.3f}")
c[0].caption(f"95 % CI {summary['auc_ci'][0]:.3f} – {summary['auc_ci'][1]:.3f}")
c[1].metric("EER", texts.fmt_pct(summary["eer"]))
c[1].caption(f"at threshold {summary['eer_threshold']:+.3f}")
c[2].metric("Videos", f"{summary['n']:,}")
c[2].caption(f"{summary['n_real']:,} genuine · {summary['n_fake']:,} fake")
if frames:
    c[3].metric("ROC AUC (frames)", f"{frames['auc']:.3f}")
    c[3].caption(f"EER {texts.fmt_pct(frames['eer'])} over {frames['n_frames']:,} frames")
deployed = evaluation_store.deployed_rule_summary(ev)
if deployed:
    st.caption(f"Scores here are of each video's main track (the person seen most), which the model is "
               f"trained on. Scored as the tool scores a video (the highest of its tracks seen in enough "
               f"frames; {deployed['n_videos_differing']} videos change): ROC AUC {deployed['auc']:.3f}, "
               f"EER {texts.fmt_pct(deployed['eer'])}.")

# ----------------------------------------------------------------- threshold
st.subheader("Operating point")
default = evaluation_store.stored_threshold(ev, model.card if model else None)
default = summary["eer_threshold"] if default is None else default
lo, hi, step = evaluation_store.threshold_range(ev, default)
threshold = st.slider("Threshold on the SVM score (rejected as fake at or above it)", lo, hi,
                      float(min(max(default, lo), hi)), step=step, format="%+.3f", key="threshold")
st.caption(f"The model's threshold is {texts.fmt_score(default)}; move the slider to see the trade-off."
           + (" " + texts.verdict_rule_note(model.card) if model is not None and texts.verdict_rule_note(model.card)
              else ""))
op = evaluation_store.operating_point(ev, threshold)
c = st.columns(4)
c[0].metric("FAR = APCER", texts.fmt_pct(op["far"]), help="Share of fake videos accepted as genuine.")
c[1].metric("FRR = BPCER", texts.fmt_pct(op["frr"]), help="Share of genuine videos rejected as fake.")
c[2].metric("HTER", texts.fmt_pct(op["hter"]), help="(FAR + FRR) / 2")
c[3].metric("Accuracy", texts.fmt_pct(op["accuracy"]))
st.caption(texts.rates_caveat(model.card if model else None))
left, right = st.columns([2, 3], gap="large")
with left:
    st.plotly_chart(figures.confusion_figure(op), key="confusion")
with right:
    st.plotly_chart(figures.error_rate_figure(ev, threshold), key="error_rates")

left, right = st.columns(2, gap="large")
with left:
    st.plotly_chart(figures.roc_figure(ev, threshold), key="roc")
with right:
    st.plotly_chart(figures.det_figure(ev, threshold), key="det")
st.caption("DET: both axes logarithmic; a rate of 0 is drawn at 1/(2n) so it stays on the chart.")

st.markdown("**Choose an operating point**")
left, right = st.columns(2, gap="large")
with left:
    target = st.radio("Target", list(evaluation_store.TARGETS), key="target", horizontal=True)
    percent = st.number_input("X (%)", 0.0, 100.0, 1.0, step=0.5, key="target_percent")
    chosen = evaluation_store.chosen_threshold(ev, target, percent)
    chosen_op = evaluation_store.operating_point(ev, chosen)
    c = st.columns(3)
    c[0].metric("Threshold", f"{chosen:+.4f}")
    c[1].metric("FAR at it", texts.fmt_pct(chosen_op["far"]), help="Share of fake videos missed.")
    c[2].metric("FRR at it", texts.fmt_pct(chosen_op["frr"]), help="Share of genuine videos flagged.")
    st.caption(f"On the stored evaluation: {chosen_op['confusion']['fp']} of {chosen_op['n_real']} genuine videos "
               f"flagged, {chosen_op['confusion']['fn']} of {chosen_op['n_fake']} fakes missed. "
               "`deepfake-detector scan --flag-rate X/100` flags at the same threshold as \"flag at most X % of "
               "genuine videos\" here.")
with right:
    st.dataframe(evaluation_store.tpr_table(ev), hide_index=True, width="stretch",
                 column_config={"Genuine videos flagged (FPR) at most": PERCENT, "Fakes flagged (TPR)": PERCENT,
                                "Threshold": st.column_config.NumberColumn(format="%+.4f")})
    st.caption("Share of fakes flagged when at most 1 %, 5 % or 10 % of genuine videos are.")

def lr_plots(condition: str | None, key: str) -> bool:
    """The Tippett and ECE plots side by side (False when there are no LRs to draw)."""
    tippett, ece = figures.tippett_figure(ev, condition), figures.ece_figure(ev, condition)
    if tippett is None or ece is None:
        return False
    left, right = st.columns(2, gap="large")
    left.plotly_chart(tippett, key=f"tippett_{key}")
    right.plotly_chart(ece, key=f"ece_{key}")
    st.caption(texts.LR_PLOTS_CAPTION)
    return True


st.markdown("**Likelihood ratios**")
own_lrs = lr_plots(None, "own")
choices = evaluation_store.condition_choices(ev, exclude_original=own_lrs)  # the original files: drawn once
if own_lrs:
    st.caption("Both plots use the log10 LRs of the stored scores above (the original files)."
               + (" Re-encoded copies and unseen methods: *Under each condition* below." if choices else ""))
else:
    st.caption("The stored scores have no likelihood ratios (a model trained before calibration): no Tippett or "
               "ECE plot of them." + (" Those of the per-condition scores are under *Under each condition* below."
                                      if choices else ""))

# ----------------------------------------------------------------- breakdowns
st.subheader("Breakdown at this threshold")
by_method, by_compression = st.tabs(["Per manipulation method", "Per compression"])
pct_cols = {k: PERCENT for k in ("FAR = APCER", "FRR = BPCER", "HTER")}
with by_method:
    attacks, genuine = evaluation_store.method_tables(ev, threshold)
    st.dataframe(attacks, hide_index=True, width="stretch", column_config={**pct_cols, "AUC vs genuine": DECIMAL})
    st.caption("Each manipulation method's fakes against all genuine videos: its FAR is the APCER of that "
               "attack type, its AUC how well it is separated from genuine videos.")
    if len(genuine):
        st.dataframe(genuine, hide_index=True, width="stretch", column_config=pct_cols)
        st.caption("Genuine sources: their FRR is the BPCER.")
    st.download_button("Export this table (CSV)", evaluation_store.breakdown_table(ev, threshold, "method").to_csv(index=False),
                       "evaluation_per_method.csv", "text/csv", key="csv_method")
with by_compression:
    table = evaluation_store.breakdown_table(ev, threshold, "compression")
    st.dataframe(table, hide_index=True, width="stretch", column_config={**pct_cols, "AUC": DECIMAL})
    st.caption("Genuine and fake videos at each compression level.")
    st.download_button("Export this table (CSV)", table.to_csv(index=False), "evaluation_per_compression.csv",
                       "text/csv", key="csv_compression")

# ----------------------------------------------------------------- conditions
conditions = evaluation_store.conditions_table(model.card if model is not None else None)
if conditions is not None or choices:
    st.subheader("Under each condition")
if conditions is not None:
    st.dataframe(conditions[0], hide_index=True, width="stretch", height=35 * (len(conditions[0]) + 1) + 3,
                 column_config={"AUC": DECIMAL, "AUC min": DECIMAL, "AUC max": DECIMAL, "EER": PERCENT,
                                "TPR at FPR 5 %": PERCENT, "Cllr": DECIMAL, "Cllr-min": DECIMAL})
    st.caption("From the model card: its training procedure in nested grouped cross-validation, mean over fold "
               "seeds: the original files; copies of the test-fold videos re-encoded as platforms do (never trained on); "
               "methods left out of training. Cllr / Cllr-min (when measured): of the out-of-fold log10 LRs, each "
               f"outer fold's calibration fitted inside its training part; below 1 they inform. Measured by `{conditions[1]}`.")
if choices:
    condition = st.selectbox("Likelihood ratios under the condition", choices, format_func=condition_label,
                             key="lr_condition")
    lr_plots(condition, "condition")
    seeds = sorted(ev.condition_scores["seed"].unique()) if "seed" in ev.condition_scores.columns else []
    st.caption(f"Both plots use the out-of-fold LRs of the same procedure under this condition (fold seed "
               f"{', '.join(map(str, seeds)) or '?'}; `{EVALUATION_DIR}/{CONDITION_SCORES_FILE}`, written by "
               "`benchmarks/generalization.py --into`)."
               + (" The original files' are under *Likelihood ratios* above, from the stored scores." if own_lrs
                  else ""))
if ev.condition_scores_error:
    st.warning(f"The per-condition likelihood ratios cannot be shown: {ev.condition_scores_error}")

# ----------------------------------------------------------------- re-encoding
st.subheader("After re-encoding")
degraded = evaluation_store.degraded_table(ev.metrics)
if degraded is not None:
    st.dataframe(degraded, hide_index=True, width="stretch",
                 column_config={"AUC": DECIMAL, "Face swap c23 AUC": DECIMAL, "EER": PERCENT,
                                "FAR at fold thresholds": PERCENT, "FRR at fold thresholds": PERCENT})
    st.caption("The held-out videos' re-encoded copies (first 120 frames, H.264 4:2:0 as platforms encode), "
               "scored by the same out-of-fold models at each fold's own threshold.")
else:
    st.caption("This model's evaluation has no re-encoded copies. A platform's re-encoding after the "
               "manipulation removes most of the compression trace this detector reads (README, Accuracy); "
               "for such video choose a model trained with re-encoded copies in the sidebar.")

# ----------------------------------------------------------------- data
st.subheader("Training data")
balance = evaluation_store.class_balance(ev)
st.markdown(f"Class balance of the evaluated videos: **{evaluation_store.class_balance_text(ev)}**.")
left, right = st.columns([3, 2], gap="large")
with left:
    st.plotly_chart(figures.class_balance_figure(balance), key="balance")
with right:
    st.dataframe(balance, hide_index=True, width="stretch")
    training = models.training_text(model.card if model else None)
    if training:
        st.caption(f"Training data in the model card: {training}")
st.download_button("Export all per-video scores with the decision at this threshold (CSV)",
                   evaluation_store.scores_with_decision(ev, threshold).to_csv(index=False), "evaluation_scores.csv",
                   "text/csv", key="csv_scores")
