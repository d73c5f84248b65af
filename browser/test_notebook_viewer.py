"""A real-browser check of the notebook viewers: JupyterLab on 127.0.0.1, notebook 03 in headless Chromium.

Runs every cell of notebook 03 in JupyterLab (the models come from the `runs/interactive` cache
that `make test` or `make notebooks` fills; otherwise the smoke models are trained first), then
moves the viewer's slice slider and method selector and checks, from screenshots of the rendered
view, that the image is not blank and changes with each control. JupyterLab serves a copy of the
notebook (autosave off), so nothing reaches the committed one. The screenshots are kept in
browser/output/. Not part of `make test`: it needs Debian's chromium (`apt-get install chromium`).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
OUTPUT = Path(__file__).resolve().parent / "output"
CHROMIUM = Path(os.environ.get("RADXAI_CHROMIUM", "/usr/bin/chromium"))
# Without the networking flags Chromium keeps trying to reach Google's hosts on a closed network.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# The server stops by itself this long after its last activity, should the test be killed.
IDLE_SHUTDOWN_SECONDS = 900
RUN_ALL_TIMEOUT_MS = 15 * 60 * 1000
# JupyterLab's page and a kernel take seconds on an idle machine, minutes on a loaded one.
KERNEL_START_TIMEOUT_MS = 5 * 60 * 1000
NOTEBOOK = "03_cam_3d.ipynb"
# JupyterLab exposes its application as window.jupyterapp (--LabApp.expose_app_in_browser).
KERNEL_IDLE = """() => {
    const widget = window.jupyterapp && window.jupyterapp.shell.currentWidget;
    const kernel = widget && widget.sessionContext && widget.sessionContext.session
        && widget.sessionContext.session.kernel;
    return Boolean(kernel) && kernel.connectionStatus === 'connected' && kernel.status === 'idle';
}"""
CLEAR_AND_RUN_ALL = """async () => {
    const commands = window.jupyterapp.commands;
    await commands.execute('notebook:clear-all-cell-outputs');
    commands.execute('notebook:run-all-cells');  // not awaited: it resolves when every cell has run
}"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A JupyterLab server on 127.0.0.1 with a token, in notebooks/; yields its base URL and token.

    Its settings and workspaces are its own (a person's JupyterLab settings do not leak in), with
    the news prompt off, which would otherwise cover a corner of the screenshots."""
    if not CHROMIUM.is_file():
        pytest.fail(
            f"no Chromium at {CHROMIUM}: install Debian's package (apt-get install chromium) "
            "or point RADXAI_CHROMIUM at a Chromium binary"
        )
    port, token = free_port(), secrets.token_hex(16)
    settings = tmp_path_factory.mktemp("lab-settings")
    # No news prompt, no autosave, and the notebook's own kernel started without asking.
    for plugin, values in (
        ("apputils-extension/notification", {"fetchNews": "false"}),
        ("docmanager-extension/plugin", {"autosave": False}),
        ("notebook-extension/tracker", {"autoStartDefaultKernel": True}),
    ):
        path = settings / "@jupyterlab" / f"{plugin}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))
    # A copy of the notebook, so that nothing the browser does reaches the committed one; its
    # run_dir ../runs/interactive leads to the project's cache of trained models.
    served = tmp_path_factory.mktemp("served")
    (served / "notebooks").mkdir()
    shutil.copy(ROOT / "notebooks" / NOTEBOOK, served / "notebooks" / NOTEBOOK)
    (ROOT / "runs").mkdir(exist_ok=True)
    (served / "runs").symlink_to(ROOT / "runs", target_is_directory=True)
    command = [
        sys.executable,
        "-m",
        "jupyter",
        "lab",
        "--ip=127.0.0.1",
        f"--port={port}",
        "--no-browser",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={served / 'notebooks'}",
        f"--ServerApp.shutdown_no_activity_timeout={IDLE_SHUTDOWN_SECONDS}",
        f"--MappingKernelManager.cull_idle_timeout={IDLE_SHUTDOWN_SECONDS}",
        "--MappingKernelManager.default_kernel_name=radxai",
        "--LabApp.expose_app_in_browser=True",
        f"--LabApp.user_settings_dir={settings}",
        f"--LabApp.workspaces_dir={settings}",
    ]
    if os.geteuid() == 0:
        command.append("--allow-root")
    OUTPUT.mkdir(exist_ok=True)
    log = open(OUTPUT / "jupyterlab.log", "w")
    server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2)
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"JupyterLab did not start; see {OUTPUT / 'jupyterlab.log'}")
                time.sleep(1)
        yield url, token
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


def pixels(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("L"), dtype=float)


def test_the_viewer_of_notebook_03_redraws_when_its_slider_and_method_selector_move(lab) -> None:
    from playwright.sync_api import sync_playwright

    url, token = lab
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1100})
        try:
            # A kernel dialog would block the menus (seen once on a loaded machine despite the
            # setting): whenever one covers the page before an action, it is answered first.
            kernel_dialog = page.locator(".jp-Dialog", has_text="Select Kernel")
            page.add_locator_handler(kernel_dialog, lambda dialog: dialog.get_by_role("button", name="Select").click())
            page.goto(f"{url}/lab/tree/{NOTEBOOK}?token={token}")
            page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=KERNEL_START_TIMEOUT_MS)
            # The notebook's kernel is ready once its session reports idle (the toolbar's indicator
            # can say idle before the kernel has connected).
            page.wait_for_function(KERNEL_IDLE, timeout=KERNEL_START_TIMEOUT_MS)
            # Outputs saved in the file (and widgets restored from them) must not pass for this run's.
            # JupyterLab's own commands, not menu clicks: on a loaded machine a click could land
            # before a menu had opened, and Run All never started (seen once).
            page.evaluate(CLEAR_AND_RUN_ALL)
            # Cells waiting or running show "[*]": proof that Run All started.
            page.wait_for_selector(".jp-InputPrompt:has-text('[*]')", timeout=KERNEL_START_TIMEOUT_MS)
            viewer = page.locator(".jp-OutputArea-output .widget-vbox").last
            viewer.wait_for(timeout=RUN_ALL_TIMEOUT_MS)
            status = viewer.locator(".widget-label").last
            image = viewer.locator("img").last
            image.scroll_into_view_if_needed()
            shots = []

            def shoot(name: str, expected_status: str) -> None:
                # The status line names the state the kernel drew; the image follows it.
                page.wait_for_function(
                    "([element, text]) => element.textContent.includes(text)",
                    arg=[status.element_handle(), expected_status],
                    timeout=60_000,
                )
                page.wait_for_function(
                    "element => element.complete && element.naturalWidth > 0",
                    arg=image.element_handle(),
                    timeout=60_000,
                )
                page.wait_for_timeout(1500)  # the image message follows the status message
                path = OUTPUT / f"{len(shots) + 1:02d}_{name}.png"
                image.screenshot(path=path)
                shots.append(pixels(path))

            first_slice = int(status.text_content().split(" slice ")[1].split(" ")[0])
            shoot("initial", f"axial slice {first_slice} · hirescam")
            viewer.locator(".widget-slider", has_text="slice").locator(".noUi-handle").focus()
            for _ in range(2):
                page.keyboard.press("ArrowRight")
            shoot("slice_moved", f"axial slice {first_slice + 2} · hirescam")
            viewer.locator(".widget-dropdown", has_text="method").locator("select").select_option("gradcam")
            shoot("method_changed", f"axial slice {first_slice + 2} · gradcam")
        finally:
            page.screenshot(path=OUTPUT / "page.png")  # what the browser showed last, for a failure
            browser.close()
    for shot in shots:
        assert shot.std() > 10, "a rendered view is blank"
    for before, after in zip(shots, shots[1:]):
        assert before.shape == after.shape and np.abs(before - after).mean() > 0.5, "the view did not change"
