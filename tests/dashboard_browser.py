"""A real optuna-dashboard server on 127.0.0.1 and a real headless Chromium to look at it.

Used by ``tests/test_dashboard.py`` and ``scripts/make_docs_pictures.py``. The server is the
``optuna-dashboard`` command of the running interpreter's environment, started on a free port
against a storage URL, waited for with a bounded poll of its API and always terminated. The
browser is Debian's ``chromium`` driven by Playwright (``playwright install`` cannot download
browsers here, so the executable is given by path).
"""

from __future__ import annotations

from collections.abc import Iterator
import contextlib
import os
from pathlib import Path
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
INSTALL_HINT = (
    "install Debian's chromium (scripts/install_system_deps.sh, as root) and Playwright "
    "(pip install 'cascaderl-optuna[test]')"
)
_START_TIMEOUT_S = 60.0


def browser_unavailable() -> str | None:
    """Why the browser cannot run here, or ``None`` when it can."""
    if not os.access(CHROMIUM, os.X_OK):
        return f"{CHROMIUM} not found: {INSTALL_HINT}."
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return f"playwright is not installed: {INSTALL_HINT}."
    return None


def launch_chromium(playwright):  # type: ignore[no-untyped-def]
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _dashboard_command() -> list[str]:
    beside = Path(sys.executable).with_name("optuna-dashboard")
    found = str(beside) if beside.exists() else shutil.which("optuna-dashboard")
    if found is None:
        raise RuntimeError("The optuna-dashboard command is not installed: pip install 'cascaderl-optuna[dashboard]'")
    return [found]


@contextlib.contextmanager
def running_dashboard(storage_url: str) -> Iterator[str]:
    """Start ``optuna-dashboard`` on ``storage_url``; yield its base URL; stop it."""
    port = _free_port()
    log = tempfile.TemporaryFile()
    process = subprocess.Popen(
        [*_dashboard_command(), storage_url, "--host", "127.0.0.1", "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + _START_TIMEOUT_S
        while True:
            if process.poll() is not None:
                log.seek(0)
                raise RuntimeError(
                    f"optuna-dashboard exited with code {process.returncode}:\n" + log.read().decode(errors="replace")
                )
            try:
                with urllib.request.urlopen(f"{base}/api/studies", timeout=2) as response:
                    if response.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"optuna-dashboard did not answer on {base} within {_START_TIMEOUT_S:.0f} s")
            time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        log.close()
