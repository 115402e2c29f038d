"""Benchmarks with baselines measured in the same run (issue 6): `python -m bench run [--quick]`."""

import base64
import os

from models import crypto

# One data key for the generator, the scenarios and the servers they start (inherited environment):
# rows written directly are sealed exactly as the platform seals them.
os.environ.setdefault("SHENGUAN_DATA_KEY", base64.b64encode(b"shenguan-bench-data-key-32-bytes").decode())
crypto.configure([base64.b64decode(os.environ["SHENGUAN_DATA_KEY"])])
