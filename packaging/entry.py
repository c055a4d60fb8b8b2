"""The bundle's entry point: the `counter-app` command (no arguments: start the counter)."""

import sys

from counter_app.cli import main

if __name__ == "__main__":
    sys.exit(main())
