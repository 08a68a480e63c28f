"""README.md is kept by hand in step with nbs/index.ipynb (`.ci/readme` renders one from the other): a drift fails here."""
import subprocess, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_readme_in_step():
    r = subprocess.run([sys.executable, str(ROOT / '.ci' / 'readme'), '--check'], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
