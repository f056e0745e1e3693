"""The summary step: figures (matplotlib, nilearn) and the self-contained HTML page."""
