"""Start the counter application: `python main.py [--db URL] [--demo]` (same as `counter-app run`)."""

import sys

from counter_app.cli import main

if __name__ == "__main__":
    sys.exit(main(["run", *sys.argv[1:]]))
