"""python -m openusage"""
import sys

from openusage.cli.main import main

if __name__ == "__main__":  # not when a worker process started by spawn imports the main module
    sys.exit(main())
