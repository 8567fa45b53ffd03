"""`python -m repro`: see repro.cli."""
import sys

from repro.cli import main

sys.exit(main())
