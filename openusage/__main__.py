"""python -m openusage"""
import sys

from openusage.cli.main import main

sys.exit(main())
