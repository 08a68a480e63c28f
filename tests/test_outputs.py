"""The notebooks are committed executed (`.ci/execute`), so that a reader without a kernel sees what they show.

Two checks that a careless commit breaks: every notebook with code has saved outputs, and every saved plotly figure
has a PNG of it in the same cell (GitHub does not draw plotly)."""
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NBS = sorted(p for p in (ROOT / 'nbs').glob('*.ipynb') if not p.name.startswith('_'))
PLOTLY = 'application/vnd.plotly.v1+json'


def _code(nb): return [c for c in nb['cells'] if c['cell_type'] == 'code' and ''.join(c['source']).strip()]


def _runs(c):
    "A code cell that runs when the notebook is executed (not `#| eval: false`, not `#| slow`)."
    head = [l.replace(' ', '') for l in ''.join(c['source']).splitlines() if l.startswith('#|')]
    return not any(l.startswith('#|eval:false') or l == '#|slow' for l in head)


@pytest.mark.parametrize('nb', NBS, ids=[p.stem for p in NBS])
def test_executed(nb):
    cells = [c for c in _code(json.loads(nb.read_text())) if _runs(c)]
    if not cells: pytest.skip(f'{nb.name} runs no code when executed')
    shown = [c for c in cells if c.get('outputs')]
    assert shown, f'{nb.name} has no saved outputs: run .ci/execute {nb.stem} and commit it'


@pytest.mark.parametrize('nb', NBS, ids=[p.stem for p in NBS])
def test_plotly_has_png(nb):
    for i, c in enumerate(_code(json.loads(nb.read_text()))):
        kinds = [k for o in c.get('outputs', []) for k in (o.get('data') or {})]
        if PLOTLY in kinds:
            assert kinds.count('image/png') >= kinds.count(PLOTLY), (
                f'{nb.name}, code cell {i}: a plotly figure without its PNG; display it with fsdd_nb.figures.show(fig)')
