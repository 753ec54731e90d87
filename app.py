"""Home page of the deepfake-detector dashboard (placeholder until the dashboard lands)."""

import streamlit as st

st.set_page_config(page_title="deepfake-detector", layout="wide")
st.title("deepfake-detector")
st.write("Fast, CPU-only, explainable detection of face-swap videos.")
