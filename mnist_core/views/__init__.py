"""Figures and view models for the pages (Plotly charts, galleries, the architecture builder); no
Streamlit."""
