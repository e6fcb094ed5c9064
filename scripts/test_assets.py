"""Prepare cached test assets (run by scripts/test). Each step is idempotent and skips when done."""
