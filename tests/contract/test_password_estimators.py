"""R-SEC-2: the web's strength meter (web/vendor/zxcvbn, JavaScript) and the API's rule (zxcvbn on PyPI) judge
passwords alike, so the meter never calls a password fine that the API then refuses, or the other way round.
Run with node, as the browser would run the vendored file."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from auth.passwords import MAX_LENGTH, SITE_WORDS

VENDORED = Path(__file__).resolve().parents[2] / "web" / "vendor" / "zxcvbn" / "zxcvbn.js"
NODE = shutil.which("node")

SAMPLES = [
    "password1234", "qwertyuiop12", "iloveyou2024", "1q2w3e4r5t6y", "Password123!", "letmein12345",
    "aaaaaaaaaaaa", "abcdefghijklmnop", "uberpopug2024!", "keshapopugaeva1", "kesha@uberpopug.example",
    "hunter2hunter2", "Tr0ub4dor&3xx", "seed sorters", "sunflower-seeds-42", "Millet and 7 crackers",
    "quiet parrot lamp", "19.04.1987-popug", "zxcvbnmasdfgh", "семечки подсолнуха", "x" * MAX_LENGTH,
]  # fmt: skip
USER_INPUTS = [*SITE_WORDS, "kesha popugaeva", "keshapopugaeva", "kesha", "popugaeva", "kesha@uberpopug.example"]


@pytest.mark.skipif(NODE is None, reason="node is not installed")
def test_r_sec_2_the_web_meter_scores_every_sample_as_the_api_does():
    from zxcvbn import zxcvbn

    script = (
        f"const zxcvbn = require({json.dumps(str(VENDORED))});"
        f"const inputs = {json.dumps(USER_INPUTS)};"
        f"const samples = {json.dumps(SAMPLES, ensure_ascii=False)};"
        "console.log(JSON.stringify(samples.map((p) => zxcvbn(p, inputs).score)));"
    )
    result = subprocess.run([NODE, "-e", script], capture_output=True, text=True, timeout=60, check=True)
    web = dict(zip(SAMPLES, json.loads(result.stdout), strict=True))
    api = {p: zxcvbn(p, user_inputs=USER_INPUTS, max_length=MAX_LENGTH)["score"] for p in SAMPLES}
    assert web == api
