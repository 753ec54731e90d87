"""What the dashboard shows, computed without Streamlit.

The pages (``app.py``, ``pages/``) only lay out widgets; everything they display comes
from the modules of this package, one job each, data flowing down this list:

- :mod:`~detector.dashboard.texts`: fixed texts (disclaimer, caveats), labels, number formats;
- :mod:`~detector.dashboard.style`: colours and the score axis shared by figures and the report;
- :mod:`~detector.dashboard.models`: the model folders offered, what their cards measured;
- :mod:`~detector.dashboard.uploads`: upload checks, temp copies, an analysis of an upload or a path;
- :mod:`~detector.dashboard.video_view`: tables, gallery and highlighted frames of one analysis;
- :mod:`~detector.dashboard.explain`: what moved the score (contributions per column and family)
  and the heat map over the face (:mod:`detector.heatmap`) with its table and caption;
- :mod:`~detector.dashboard.evaluation_store`: a model's stored evaluation (scores, operating
  point, breakdowns);
- :mod:`~detector.dashboard.batch`: the batch scanner's results for the Batch page;
- :mod:`~detector.dashboard.roots`: the folders the operator lets the dashboard scan or read,
  and the state folder of its scans;
- :mod:`~detector.dashboard.scan_jobs`: scans started from the Batch page, in the background
  (one per database), and their progress;
- :mod:`~detector.dashboard.figures`: the plotly figures (the only module importing plotly).

Nothing here caches: the pages wrap the heavy calls in ``st.cache_resource`` /
``st.cache_data``.  This file imports nothing, so that the case report can use the
modules it needs without loading plotly.
"""
