"""Benchmarks (not tests): `make bench` runs them all and prints one JSON object of figures.

Like the tests (pyproject's `pythonpath`), benchmarks import the functions' code from functions/.
"""

import sys
from pathlib import Path

FUNCTIONS = str(Path(__file__).resolve().parent.parent / "functions")
if FUNCTIONS not in sys.path:
    sys.path.insert(0, FUNCTIONS)
