"""Prepare cached test assets before the suite runs (called by scripts/test). Idempotent: each step
returns at once when its asset is already in the cache, so only a fresh machine pays for it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    steps = [HERE / "prepare_inspector.py"]  # the embedding model ships in the package
    for step in steps:
        if not step.exists():
            continue
        result = subprocess.run([sys.executable, str(step)])
        if result.returncode != 0:
            print(f"test assets: {step.name} failed (exit {result.returncode})", file=sys.stderr)
            return result.returncode
    return 0


if __name__ == "__main__":
    sys.exit(main())
