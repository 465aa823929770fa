"""``uv run python -m bench``: every benchmark, results in .state/bench/results.json."""

import sys

from bench.run_all import main

sys.exit(main())
