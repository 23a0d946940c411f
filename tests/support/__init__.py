"""Helpers shared by the tests: a local page server and process utilities."""
