"""spark-submit entry point: ``spark-submit jobs/main.py <command> --env emr --run-date D``."""
from __future__ import annotations

import sys

from jobs.common.cli import main

if __name__ == "__main__":
    sys.exit(main())
