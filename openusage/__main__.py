"""python -m openusage"""
from openusage.cli.main import run

if __name__ == "__main__":  # not when a worker process started by spawn imports the main module
    run()
