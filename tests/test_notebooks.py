"""Each notebook in nbs/ is one pytest item: it runs top to bottom and its fastcore.test checks must pass.

Cells flagged with a flag listed in settings.ini's `tst_flags` (``#| slow``) are skipped unless
FSDD_TEST_FLAGS names them (e.g. ``FSDD_TEST_FLAGS=slow pytest tests``)."""
import os
from pathlib import Path

import pytest
from nbdev.config import get_config
from nbdev import test as nbdev_test

ROOT = Path(__file__).resolve().parents[1]
NBS = sorted(p for p in (ROOT / 'nbs').glob('*.ipynb') if not p.name.startswith('_'))


@pytest.mark.parametrize('nb', NBS, ids=[p.stem for p in NBS])
def test_notebook(nb, monkeypatch):
    monkeypatch.chdir(nb.parent)
    cfg = get_config(path=ROOT)
    skip = cfg.tst_flags.split()
    force = os.environ.get('FSDD_TEST_FLAGS', '').split()
    ok, secs = nbdev_test.test_nb(nb, skip_flags=skip, force_flags=force, do_print=False, showerr=True, basepath=str(ROOT))
    assert ok, f'{nb.name} failed after {secs:.1f}s (see the traceback above)'
