"""`python -m devstack seed`: a realistic company-year in the local stack (SPEC R-LOC-3); see `run`.

The seeder builds its items and events with the functions' own domain and store code, so `functions/` (every
function's CodeUri) is put on the import path, as a Lambda's PYTHONPATH holds its CodeUri.
"""

import sys
from pathlib import Path

_FUNCTIONS = str(Path(__file__).resolve().parents[2] / "functions")
if _FUNCTIONS not in sys.path:
    sys.path.insert(0, _FUNCTIONS)
