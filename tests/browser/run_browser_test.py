"""Real-browser smoke test: every notebook runs in JupyterLab, and notebook 04's explorer works.

    python tests/browser/run_browser_test.py [--only 04] [--notebooks DIR] [--update-docs]

`make test-browser` runs it, and CI runs it after `make test` (.ci/browser). It

1. copies notebooks/ into a temporary folder, with outputs and execution counts cleared;
2. starts JupyterLab there on a free localhost port with a throw-away configuration (no token,
   temporary config, data, runtime, settings and workspace folders; the lab extensions, such as
   the ipywidgets one, still come from the environment that runs this script);
3. drives Debian's Chromium, headless, with Playwright: for each notebook, sorted, it uses the
   menu Run → Run All Cells, waits until every code cell has an execution count, saves, and
   checks that no output is an error or a traceback, and that no widget failed to display;
4. in notebook 04, checks that the explorer shows its controls as widgets (not a text repr), that
   Train with another number of seeds draws a new plot and summary, and that a bad value shows a
   message and keeps the plot. Screenshots go to artifacts/browser/ (git-ignored);
   `--update-docs` also copies the explorer's screenshot to docs/explorer.png for the README;
5. checks that JupyterLab did not greet the student with its "get notified about Jupyter news?"
   pop-up: the throw-away settings leave the news alone, so what keeps the pop-up away is the
   overrides.json that `make setup` writes into the environment (see the Makefile);
6. stops JupyterLab and its kernels, whatever happened.

It exits with status 0 when every check passed and 1 otherwise, printing what failed.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts" / "browser"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",  # CI runs as root, where Chromium's sandbox cannot start
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--metrics-recording-only",
    "--mute-audio",
]
EXPLORER_CELL = "from tying_utils.explorer import explorer"
EXPLORER_NOTEBOOK = "04_"
SERVER_START_S = 120
NOTEBOOK_RUN_S = 600  # notebook 05 takes about a minute on a quiet 2-core CPU
CLICK_S = 120

# JupyterLab settings for this run only: every cell stays in the page (so all prompts and outputs
# can be read). The news settings are left to the environment's overrides.json (make setup), which
# is what a student's `make lab` gets, so that check 5 tests it.
LAB_SETTINGS = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
}
# The environment-wide defaults JupyterLab reads ({sys.prefix}/share/jupyter/lab/settings/).
LAB_OVERRIDES = Path(sys.prefix) / "share" / "jupyter" / "lab" / "settings" / "overrides.json"
NEWS_POPUP = "notified about official Jupyter news"


class CheckFailed(Exception):
    """A check of the smoke test failed; the message says which and why."""


# --- JupyterLab ------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def prepare_root(folder: Path, notebooks: list[Path]) -> list[str]:
    """Copy the notebooks with outputs and counts cleared, so every count seen was made now."""
    folder.mkdir()
    for path in notebooks:
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            if cell.cell_type == "code":
                cell.outputs, cell.execution_count = [], None
        nbformat.write(nb, folder / path.name)
    return [p.name for p in notebooks]


def start_lab(tmp: Path, port: int) -> tuple[subprocess.Popen, dict[str, Path]]:
    dirs = {name: tmp / name for name in
            ("config", "data", "runtime", "settings", "workspaces", "ipython")}
    for folder in dirs.values():
        folder.mkdir()
    for name, settings in LAB_SETTINGS.items():
        target = dirs["settings"] / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(settings))
    env = dict(
        os.environ,
        JUPYTER_CONFIG_DIR=str(dirs["config"]),
        JUPYTER_DATA_DIR=str(dirs["data"]),  # lab extensions are also looked up in sys.prefix
        JUPYTER_RUNTIME_DIR=str(dirs["runtime"]),
        JUPYTERLAB_SETTINGS_DIR=str(dirs["settings"]),
        JUPYTERLAB_WORKSPACES_DIR=str(dirs["workspaces"]),
        IPYTHONDIR=str(dirs["ipython"]),
        PYDEVD_DISABLE_FILE_VALIDATION="1",
    )
    command = [
        sys.executable, "-m", "jupyterlab",
        "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
        "--ServerApp.open_browser=False", "--IdentityProvider.token=", "--ServerApp.password=",
        "--ServerApp.disable_check_xsrf=True", f"--ServerApp.root_dir={tmp / 'root'}",
        "--ServerApp.allow_root=True",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ]
    with open(tmp / "jupyterlab.log", "w") as log:  # the server keeps its own copy of the file
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True, cwd=tmp)
    return process, dirs


def wait_for_server(url: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + SERVER_START_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise CheckFailed(f"JupyterLab exited with status {process.returncode}:\n"
                              + log.read_text()[-3000:])
        try:
            with urllib.request.urlopen(f"{url}/api/status", timeout=5) as answer:
                if answer.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.5)
    raise CheckFailed(f"JupyterLab did not answer within {SERVER_START_S} s.")


def api(url: str, path: str, method: str = "GET"):
    request = urllib.request.Request(f"{url}{path}", method=method)
    with urllib.request.urlopen(request, timeout=30) as answer:
        body = answer.read()
    return json.loads(body) if body else None


def shut_down_kernels(url: str) -> None:
    for session in api(url, "/api/sessions"):
        api(url, f"/api/sessions/{session['id']}", method="DELETE")


def stop_lab(process: subprocess.Popen, runtime_dir: Path) -> None:
    """Stop the server's process group, then any kernel it left (kernels start their own
    session, and each one's command line names a connection file in our runtime folder)."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
    marker = str(runtime_dir).encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if marker in (entry / "cmdline").read_bytes():
                os.kill(int(entry.name), signal.SIGKILL)
        except (OSError, ProcessLookupError):
            pass


# --- the browser -----------------------------------------------------------------------------

# True once every code cell shows "[n]:", "stopped" when no cell is queued or running but some
# never ran (a cell failed and Lab dropped the rest), false while cells are queued or running.
RUN_FINISHED_JS = """() => {
  const prompts = [...document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden)'
      + ' .jp-CodeCell .jp-InputPrompt')].map(p => p.textContent.trim());
  if (prompts.length === 0 || prompts.some(t => t.includes('*'))) return false;
  if (prompts.every(t => /^\\[\\d+\\]:$/.test(t))) return true;
  return prompts.some(t => /\\d/.test(t)) ? 'stopped' : false;
}"""


def run_notebook(page, url: str, name: str, tmp: Path) -> list[str]:
    """Open `name`, run all cells, save; return the problems found (none when it passed)."""
    started, opened_at = time.monotonic(), time.time()
    page.goto(f"{url}/lab/tree/{name}?reset", wait_until="domcontentloaded")
    page.locator(".jp-NotebookPanel .jp-CodeCell").first.wait_for(timeout=120_000)
    wait_for_kernel(page, url, name)
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
    page.get_by_role("menuitem", name=re.compile(r"^Run All Cells")).click()
    result = page.wait_for_function(RUN_FINISHED_JS, timeout=NOTEBOOK_RUN_S * 1000,
                                    polling=500).json_value()
    page.keyboard.press("Control+s")
    problems = page_problems(page)
    if result is not True:  # the page answers true or "stopped"
        problems.append("not every code cell ran (a cell failed and the rest were skipped)")
    problems += saved_problems(tmp / "root" / name, opened_at)
    print(f"  {name}: ran in {time.monotonic() - started:.0f} s", flush=True)
    return problems


def wait_for_kernel(page, url: str, name: str) -> None:
    """Wait until the notebook's kernel is idle and the page is connected to it: the page shows
    "idle" even before its kernel starts, and cells run then would be lost."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        kernels = [s["kernel"] for s in api(url, "/api/sessions") if s["path"].endswith(name)]
        if kernels and kernels[0]["execution_state"] == "idle" and kernels[0]["connections"]:
            page.locator('.jp-NotebookPanel .jp-Notebook-ExecutionIndicator[data-status="idle"]'
                          ).wait_for(timeout=60_000)
            return
        time.sleep(0.5)
    raise CheckFailed(f"the kernel of {name} did not start and connect within 120 s")


def page_problems(page) -> list[str]:
    """Errors as the reader sees them: tracebacks on stderr, widgets that failed to display."""
    problems = []
    stderr = page.locator(
        '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]')
    for i in range(stderr.count()):
        text = stderr.nth(i).inner_text()
        if re.search(r"Traceback|^\w+(Error|Exception|Interrupt)\b", text, re.MULTILINE):
            problems.append("error output: " + text.strip().splitlines()[-1][:200])
    broken = page.get_by_text("Error displaying widget")
    if broken.count():
        problems.append(f"{broken.count()} widget(s) show 'Error displaying widget'")
    return problems


def saved_problems(path: Path, since: float) -> list[str]:
    """The notebook as saved from the browser: every code cell counted, no error outputs."""
    deadline = time.monotonic() + 30
    while path.stat().st_mtime < since:
        if time.monotonic() > deadline:
            return [f"the browser did not save {path.name} within 30 s"]
        time.sleep(0.5)
    time.sleep(0.5)  # let the server finish writing
    code = [c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]
    problems = [f"cell {c.execution_count}: {o.ename}: {o.evalue}"[:300]
                for c in code for o in c.outputs if o.output_type == "error"]
    if not all(c.execution_count for c in code):
        problems.append("the saved copy has code cells without an execution count")
    return problems


def news_popup_problems(page) -> list[str]:
    """The pop-up that asks whether to fetch Jupyter news (it stays until answered)."""
    if not LAB_OVERRIDES.is_file():
        return [f"{LAB_OVERRIDES} is missing: run make setup, which writes it"]
    if page.get_by_text(NEWS_POPUP).count():
        return ["JupyterLab shows the 'get notified about Jupyter news?' pop-up"]
    return []


def check_explorer(page, update_docs: bool) -> list[str]:
    """The explorer's cell shows widgets; Train redraws; a bad value gives a message."""
    cell = page.locator(".jp-CodeCell").filter(has_text=EXPLORER_CELL)
    if cell.count() != 1:
        return [f"notebook 04 has {cell.count()} cells with `{EXPLORER_CELL}`, expected one "
                "(its 'Try it yourself' cell)"]
    output = cell.locator(".jp-Cell-outputArea")
    text = output.inner_text()
    if re.search(r"Error displaying widget|\b[VH]Box\(|Explorer: run this cell", text):
        return ["the explorer shows as text, not as widgets: " + text[:200]]
    if output.locator(".jupyter-widgets").count() == 0:
        return ["the explorer's cell has no rendered widgets"]
    button = output.locator("button.widget-button", has_text="Train")
    image = output.locator("img.widget-image")
    summary = output.locator(".widget-html", has_text="Summary:")
    message = output.locator(".widget-html", has_text=re.compile("Trained|must|over the"))
    for part, locator in (("Train button", button), ("plot", image), ("summary", summary)):
        if locator.count() != 1:
            return [f"the explorer shows {locator.count()} of its {part}, expected one"]
    widget = output.locator(".jp-OutputArea-output").first  # the explorer, without the prompt
    widget.scroll_into_view_if_needed()
    widget.screenshot(path=ARTIFACTS / "explorer.png")
    if update_docs:
        (ROOT / "docs").mkdir(exist_ok=True)
        shutil.copyfile(ARTIFACTS / "explorer.png", ROOT / "docs" / "explorer.png")

    def box(label: str):
        return output.locator(".widget-text", has=page.locator(
            "label", has_text=re.compile(f"^{label}$"))).locator("input")

    problems = []
    old_src, old_summary = image.get_attribute("src"), summary.inner_text()
    seeds = "37"
    box("seeds").fill(seeds)
    box("seeds").press("Enter")
    page.locator(".widget-dropdown", has=page.locator("label", has_text="task")).locator(
        "select").select_option("shift")
    button.click()
    try:
        page.wait_for_function(
            "([img, old]) => img.getAttribute('src') !== old",
            arg=[image.element_handle(), old_src], timeout=CLICK_S * 1000)
        summary.filter(has_text=f"of {seeds} seeds").wait_for(timeout=CLICK_S * 1000)
    except Exception as error:  # a timeout, reported as a failed check
        problems.append(f"Train did not redraw the plot and summary ({type(error).__name__})")
    if summary.inner_text() == old_summary:
        problems.append("the summary did not change after Train")
    widget.screenshot(path=ARTIFACTS / "explorer-after-train.png")

    good_src, good_summary = image.get_attribute("src"), summary.inner_text()
    box("dimension").fill("0")
    box("dimension").press("Enter")
    button.click()
    try:
        message.filter(has_text="dimension must be").wait_for(timeout=CLICK_S * 1000)
    except Exception as error:
        problems.append(f"a dimension of 0 gave no message ({type(error).__name__})")
    if (image.get_attribute("src"), summary.inner_text()) != (good_src, good_summary):
        problems.append("a bad value replaced the last good plot or summary")
    if "Traceback" in output.inner_text():
        problems.append("the explorer shows a traceback")
    widget.screenshot(path=ARTIFACTS / "explorer-bad-value.png")
    return problems


# --- main ------------------------------------------------------------------------------------

def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="", help="run only notebooks whose name starts so")
    parser.add_argument("--notebooks", type=Path, default=ROOT / "notebooks",
                        help="the folder of notebooks to run (default: notebooks/)")
    parser.add_argument("--update-docs", action="store_true",
                        help="copy the explorer's screenshot to docs/explorer.png")
    args = parser.parse_args(argv)

    from playwright.sync_api import sync_playwright

    notebooks = sorted(args.notebooks.glob("[0-9][0-9]_*.ipynb"))
    notebooks = [p for p in notebooks if p.name.startswith(args.only)]
    if not notebooks:
        print("no notebooks to run", file=sys.stderr)
        return 1
    if not Path(CHROMIUM).exists():
        print(f"{CHROMIUM} is missing: apt-get install -y chromium (.ci/browser does)",
              file=sys.stderr)
        return 1
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    failures: dict[str, list[str]] = {}
    explorer_seen = False
    with tempfile.TemporaryDirectory(prefix="browser-test-") as tmp_name:
        tmp = Path(tmp_name)
        names = prepare_root(tmp / "root", notebooks)
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        process, dirs = start_lab(tmp, port)
        try:
            wait_for_server(url, process, tmp / "jupyterlab.log")
            print(f"JupyterLab answers after {time.monotonic() - started:.0f} s", flush=True)
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                page = browser.new_page(viewport={"width": 1280, "height": 1000})
                try:
                    for name in names:
                        try:
                            problems = run_notebook(page, url, name, tmp)
                            if name == names[0]:  # Lab has been open for a while by now
                                problems += news_popup_problems(page)
                            if name.startswith(EXPLORER_NOTEBOOK):
                                explorer_seen = True
                                problems += check_explorer(page, args.update_docs)
                        except Exception as error:  # a timeout or a missing element
                            problems = [f"{type(error).__name__}: {str(error)[:500]}"]
                        if problems:
                            failures[name] = problems
                            page.screenshot(path=ARTIFACTS / f"failed-{name}.png", full_page=True)
                        shut_down_kernels(url)
                finally:
                    browser.close()
        except CheckFailed as error:
            failures["JupyterLab"] = [str(error)]
        finally:
            stop_lab(process, dirs["runtime"])
            shutil.copyfile(tmp / "jupyterlab.log", ARTIFACTS / "jupyterlab.log")

    if not args.only and not explorer_seen:
        failures["notebooks"] = [f"no notebook {EXPLORER_NOTEBOOK}*.ipynb, so no explorer"]
    seconds = time.monotonic() - started
    if failures:
        for name, problems in failures.items():
            for problem in problems:
                print(f"FAILED {name}: {problem}", file=sys.stderr)
        print(f"browser test failed after {seconds:.0f} s; screenshots and the JupyterLab log "
              "are in artifacts/browser/", file=sys.stderr)
        return 1
    print(f"browser test passed: {len(names)} notebooks in {seconds:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
