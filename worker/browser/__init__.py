"""The browser layer: one session's Chrome process and the CDP connection to it."""
