"""Rate limiting with the `limits` library (moving windows; memory or Redis storage)."""
