"""`python -m pipeline.bench floor ...`: the framework floor's worker process (the harness is `salespulse bench`)."""

import sys

from pipeline.bench.floor import floor_main


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "floor":
        floor_main(sys.argv[2:])
    else:
        sys.exit("usage: python -m pipeline.bench floor ... (the harness itself is `salespulse bench`)")
