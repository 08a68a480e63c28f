"""The panel in a real browser: JupyterLab on 127.0.0.1 with a token, Debian's Chromium driven by Playwright (Python).

One test per JupyterLab setting of "comms over subshells": the default (widget messages go to a kernel subshell) and
disabled (they go to the kernel's main thread). Each starts its own JupyterLab with fresh settings, opens a notebook
that shows the panel, and drives it as a user would: a bad setting shows its error; a run on the built-in digits
updates its stage, step and loss curve while it goes; Stop ends it within seconds; a double click then starts one
run, which ends with the images and the results table.

Skipped when Playwright or Chromium is missing (.ci/run installs both). Bounded in time: every wait has a limit
and the whole test has a deadline (FSDD_BROWSER_DEADLINE, seconds). On failure it saves a screenshot and the server's
log under FSDD_BROWSER_ARTIFACTS (default: a folder in the system's temporary directory, printed). It stops every
process it started: the browser, the server and the kernel the server started. FSDD_PANEL_SCREENSHOT=path saves a
screenshot of the finished run there.
"""
import json, os, secrets, shutil, signal, socket, subprocess, sys, tempfile, time, urllib.error, urllib.parse, urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get('FSDD_CHROMIUM') or shutil.which('chromium') or shutil.which('chromium-browser')
FLAGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run']
DEADLINE = float(os.environ.get('FSDD_BROWSER_DEADLINE', 480))
ART = Path(os.environ.get('FSDD_BROWSER_ARTIFACTS') or Path(tempfile.gettempdir()) / 'fsdd_browser_artifacts')
LOOPBACK = ('127.0.0.1', 'localhost', '[::1]', '::1')

REQUIRED = os.environ.get('FSDD_BROWSER_REQUIRED', '') not in ('', '0')   # .ci/run: fail rather than skip
try: from playwright import sync_api
except ImportError:
    if REQUIRED: raise
    pytest.skip('Playwright is not installed (pip install playwright)', allow_module_level=True)
if not CHROMIUM:
    if REQUIRED: raise RuntimeError('no Chromium found (apt-get install chromium, or set FSDD_CHROMIUM to its path)')
    pytest.skip('no Chromium (apt-get install chromium)', allow_module_level=True)

# The notebook the test opens: a small run on the built-in digits, so that it ends in seconds on a busy CPU.
NOTEBOOK = dict(nbformat=4, nbformat_minor=5, metadata=dict(kernelspec=dict(name='python3', display_name='Python 3', language='python')), cells=[
    dict(cell_type='code', id='c1', metadata={}, outputs=[], execution_count=None,
         source="import fsdd_nb\nfrom fsdd_nb.panel import DistillPanel\nprint(fsdd_nb.__file__)"),
    dict(cell_type='code', id='c2', metadata={}, outputs=[], execution_count=None,
         source="panel = DistillPanel(ipc=2, adapt_steps=5, distill_steps=30, eval_length=40, n_nets=1, device='cpu')\npanel"),
])


def _free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0)); return s.getsockname()[1]


def _descendants(pid):
    "Every process below `pid`, read from /proc (children first found, then theirs)."
    kids = {}
    for d in Path('/proc').iterdir():
        if d.name.isdigit():
            try: ppid = int((d / 'stat').read_text().rsplit(')', 1)[1].split()[1])
            except (OSError, IndexError, ValueError): continue
            kids.setdefault(ppid, []).append(int(d.name))
    out, todo = [], [pid]
    while todo:
        for c in kids.get(todo.pop(), []): out.append(c); todo.append(c)
    return out


def _end(pids, grace=10.):
    "SIGTERM the processes `pids` (by id), then SIGKILL those still there after `grace` seconds."
    for p in pids:
        try: os.kill(p, signal.SIGTERM)
        except ProcessLookupError: pass
    t = time.time()
    while time.time() - t < grace and any(Path(f'/proc/{p}').exists() and 'Z' not in _state(p) for p in pids): time.sleep(0.2)
    for p in pids:
        try: os.kill(p, signal.SIGKILL)
        except ProcessLookupError: pass


def _state(pid):
    try: return (Path(f'/proc/{pid}') / 'stat').read_text().rsplit(')', 1)[1].split()[0]
    except OSError: return 'Z'


@contextmanager
def jupyterlab(work: Path, subshells: bool):
    "JupyterLab on 127.0.0.1 with a token and fresh settings; yields (url, token, log path); stops the server and its kernels."
    port, token = _free_port(), secrets.token_hex(16)
    settings = work / 'settings'
    for name, value in ((('apputils-extension', 'kernels-settings'), {} if subshells else {'commsOverSubshells': 'disabled'}),
                        (('apputils-extension', 'notification'), {'fetchNews': 'false', 'checkForUpdates': False})):
        f = settings / '@jupyterlab' / name[0] / f'{name[1]}.jupyterlab-settings'
        f.parent.mkdir(parents=True, exist_ok=True); f.write_text(json.dumps(value))
    (work / 'nb').mkdir(); (work / 'nb' / 'panel.ipynb').write_text(json.dumps(NOTEBOOK, indent=1))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT)] + [p for p in [os.environ.get('PYTHONPATH')] if p]),
               OMP_NUM_THREADS=os.environ.get('OMP_NUM_THREADS', '1'), JUPYTER_CONFIG_DIR=str(work / 'config'),
               JUPYTER_RUNTIME_DIR=str(work / 'runtime'), IPYTHONDIR=str(work / 'ipython'), FSDD_CACHE=str(work / 'cache'))
    log = work / 'jupyterlab.log'
    cmd = [sys.executable, '-m', 'jupyterlab', '--no-browser', '--ip=127.0.0.1', f'--port={port}', '--port-retries=0',
           f'--IdentityProvider.token={token}', f'--ServerApp.root_dir={work / "nb"}', f'--LabApp.user_settings_dir={settings}',
           f'--LabApp.workspaces_dir={work / "workspaces"}', '--LabApp.expose_app_in_browser=True', '--ServerApp.open_browser=False']
    if hasattr(os, 'geteuid') and os.geteuid() == 0: cmd.append('--allow-root')   # CI runs as root
    with open(log, 'w') as lf: server = subprocess.Popen(cmd, stdout=lf, stderr=subprocess.STDOUT, env=env, cwd=work, stdin=subprocess.DEVNULL)
    url = f'http://127.0.0.1:{port}'
    try:
        t = time.time()
        while True:
            if server.poll() is not None: raise RuntimeError(f'JupyterLab exited with {server.returncode}:\n{log.read_text()[-3000:]}')
            try:
                with urllib.request.urlopen(f'{url}/api/status?token={token}', timeout=5) as r:
                    if r.status == 200: break
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError): pass
            if time.time() - t > 120: raise RuntimeError(f'JupyterLab did not answer in 120 s:\n{log.read_text()[-3000:]}')
            time.sleep(0.5)
        yield url, token, log
    finally:
        pids = _descendants(server.pid)            # the kernel(s) it started, before they go
        try:
            req = urllib.request.Request(f'{url}/api/shutdown', method='POST', headers={'Authorization': f'token {token}'})
            urllib.request.urlopen(req, timeout=10).close()
            server.wait(20)
        except Exception: pass
        _end([p for p in [server.pid] + pids if Path(f'/proc/{p}').exists()])
        server.wait(10)


class Page:
    "The panel on the page: reading its lines, waiting for them, all with limits."
    def __init__(self, page, deadline): self.page, self.deadline = page, deadline
    def text(self, sel): return self.page.locator(sel).first.inner_text()
    def until(self, what, fn, timeout):
        t = time.time(); end = min(t + timeout, self.deadline)
        while True:
            try:
                v = fn()
                if v: return v
            except Exception as e:
                if time.time() > end: raise AssertionError(f'{what}: {e}') from e
            if time.time() > end:
                raise AssertionError(f'{what}: not within {timeout:.0f} s; stage {self.text(".fsdd-stage")!r}, step {self.text(".fsdd-step")!r}, message {self.text(".fsdd-message")!r}')
            self.page.wait_for_timeout(200)
    def fill(self, sel, value):
        loc = self.page.locator(f'{sel} input').first
        loc.fill(value); loc.press('Tab')
        self.page.wait_for_timeout(300)   # the value reaches the kernel before the press that reads it
    def curve(self, fig):
        "[(trace name, points)] of a loss plot, read from plotly's own data in the page."
        return self.page.evaluate("""sel => { const g = document.querySelector(sel + ' .js-plotly-plot');
            return g && g.data ? g.data.map(t => [t.name, (t.x || []).length]) : []; }""", f'.fsdd-loss-{fig}')
    def kernel(self, code):
        "Run `code` in the notebook's kernel; its printed output."
        return self.page.evaluate("""async code => { const k = window.jupyterapp.shell.currentWidget.sessionContext.session.kernel;
            let out = ''; const f = k.requestExecute({code, silent: false, store_history: false});
            f.onIOPub = m => { if (m.header.msg_type === 'stream') out += m.content.text; }; await f.done; return out; }""", code)


@pytest.mark.parametrize('subshells', [True, False], ids=['default-settings', 'comms-over-subshells-disabled'])
def test_panel_in_browser(subshells, tmp_path):
    t_start = time.time(); deadline = t_start + DEADLINE
    old = signal.signal(signal.SIGTERM, lambda *a: (_ for _ in ()).throw(KeyboardInterrupt('SIGTERM')))   # a timeout still cleans up
    name = 'default' if subshells else 'no_subshells'
    ART.mkdir(parents=True, exist_ok=True)
    blocked = []
    try:
        with jupyterlab(tmp_path, subshells) as (url, token, log), sync_api.sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
            try:
                ctx = browser.new_context(viewport=dict(width=1600, height=2600))
                def route(r):
                    host = urllib.parse.urlsplit(r.request.url).hostname or ''
                    if host in LOOPBACK or r.request.url.startswith(('data:', 'blob:')): r.continue_()
                    else: blocked.append(r.request.url); r.abort()
                ctx.route('**/*', route)
                page = ctx.new_page(); page.set_default_timeout(60_000)
                P = Page(page, deadline)
                try:
                    _drive(P, page, url, token, subshells, name)
                except BaseException:
                    try:
                        page.screenshot(path=str(ART / f'failure_{name}.png'), full_page=True)
                        shutil.copy(log, ART / f'jupyterlab_{name}.log')
                        print(f'failure screenshot and server log in {ART}')
                    except Exception as e: print(f'no failure screenshot: {e}')
                    raise
            finally: browser.close()
    finally:
        signal.signal(signal.SIGTERM, old)
        if blocked: print(f'requests to other hosts, refused: {sorted(set(blocked))[:10]}')
    print(f'{name}: passed in {time.time() - t_start:.0f} s')


def _drive(P, page, url, token, subshells, name):
    page.goto(f'{url}/lab/tree/panel.ipynb?token={token}')
    page.wait_for_function("""() => { const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
        return w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel; }""", timeout=120_000)
    page.evaluate("""async () => { const w = window.jupyterapp.shell.currentWidget; await w.sessionContext.ready;
        await window.jupyterapp.commands.execute('notebook:run-all-cells'); }""")
    page.locator('.fsdd-run').first.wait_for(state='visible', timeout=180_000)
    printed = P.until('the notebook imports fsdd_nb', lambda: page.locator('.jp-OutputArea-output pre').first.inner_text(), 60)
    assert str(ROOT / 'fsdd_nb') in printed, f'the kernel imports another fsdd_nb: {printed}'

    # a bad setting shows its error in the panel, before any work and from the library's checks
    P.fill('.fsdd-ipc', '2.5'); page.locator('.fsdd-run').first.click()
    P.until('the error of IPC 2.5', lambda: "IPC: '2.5' is not a whole number" in P.text('.fsdd-message'), 20)
    assert 'run 1' not in P.text('.fsdd-stage')
    P.fill('.fsdd-ipc', '500'); page.locator('.fsdd-run').first.click()
    P.until('the error of IPC 500', lambda: 'IPC 500 is more than' in P.text('.fsdd-message'), 90)
    assert 'Traceback' not in P.text('.fsdd-panel')
    P.fill('.fsdd-ipc', '2')

    # a long run: stage, step and loss curve move while it goes; the settings are locked
    P.fill('.fsdd-steps', '20000'); page.locator('.fsdd-run').first.click()
    P.until('the distillation in θ starts', lambda: 'distil in θ' in P.text('.fsdd-stage') and 'step ' in P.text('.fsdd-step')
            and P.curve('distill') and P.curve('distill')[0][1] > 2, 120)
    assert page.locator('.fsdd-ipc input').first.is_disabled() and page.locator('.fsdd-run').first.is_disabled()
    s1, c1 = P.text('.fsdd-step'), P.curve('distill')[0][1]
    page.wait_for_timeout(2000)
    s2, c2 = P.text('.fsdd-step'), P.curve('distill')[0][1]
    step = lambda s: int(s.split('step ')[1].split(' /')[0])
    assert step(s2) > step(s1) and c2 > c1, (s1, s2, c1, c2)
    assert 'since the start' in s2 and 'left' in s2 and '(stage 1 of' in P.text('.fsdd-stage'), s2
    assert 'whole run: at least' in P.text('.fsdd-stage'), P.text('.fsdd-stage')   # the later stages' kinds have not run yet
    t = time.time(); busy = P.kernel('print(panel.running)').strip()   # the run is in the panel's thread: the kernel still runs code
    assert busy == 'True' and time.time() - t < 15, (busy, time.time() - t)

    # Stop ends it within seconds and leaves the panel usable
    t = time.time(); page.locator('.fsdd-stop').first.click()
    P.until('Stop ends the run', lambda: 'stopped at distil in θ' in P.text('.fsdd-message'), 20)
    stop_s = time.time() - t
    assert stop_s < 10, f'Stop took {stop_s:.1f} s'
    P.until('the controls come back', lambda: not page.locator('.fsdd-run').first.is_disabled(), 10)
    assert 'run 2' in P.text('.fsdd-stage')

    # a double click starts one run, which works and ends with the images and the table
    P.fill('.fsdd-steps', '30')
    page.locator('.fsdd-run').first.dblclick()
    P.until('the run ends', lambda: 'done in' in P.text('.fsdd-message'), 240)
    assert P.text('.fsdd-stage').strip() == 'run 3: done', P.text('.fsdd-stage')
    test_curves = P.curve('distill')
    assert test_curves == [['in θ', 30], ['Baseline', 30]], test_curves
    assert P.curve('adapt') == [['translator', 5]], P.curve('adapt')
    n_img = P.until('the images show', lambda: page.locator('.fsdd-images img').count() == 50 and 50, 30)
    assert n_img == 50
    heads = page.locator('.fsdd-images').first.inner_text()
    for h in ('real (initial)', 'distilled in θ', 'translated, no adaptation', 'translated, adapted', 'difference'): assert h in heads, heads
    rows = page.locator('.fsdd-results table tr')
    assert rows.count() == 5, P.text('.fsdd-results')
    table = P.text('.fsdd-results')
    for m in ('FSDD', 'random real', '1 Net', 'Baseline'): assert m in table, table
    page.locator('.fsdd-panel').first.screenshot(path=str(ART / f'panel_{name}.png'))
    if os.environ.get('FSDD_PANEL_SCREENSHOT'): shutil.copy(ART / f'panel_{name}.png', os.environ['FSDD_PANEL_SCREENSHOT'])

    # which thread the presses came on: the setting took effect
    threads = P.kernel("print(','.join(panel.press_threads))").strip().split(',')
    print(f'{name}: presses ran on {threads}')
    if subshells: assert any(t != 'MainThread' for t in threads), threads
    else: assert all(t == 'MainThread' for t in threads), threads
    assert P.kernel('print(panel.runs, panel.error)').strip() == '3 None'
