"""Entry point of the frozen app: the same ``engram`` command line as the console script."""

from __future__ import annotations

import multiprocessing
import sys

if __name__ == "__main__":
    multiprocessing.freeze_support()  # a no-op unless a library spawns workers
    from engram.cli import main

    sys.exit(main())
