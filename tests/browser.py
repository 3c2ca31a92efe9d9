"""One way to reach a real browser in tests: Debian's Chromium driven by Playwright (never a
downloaded one). Skips only on a developer machine without any Chromium; under CI (``CI`` set)
a missing Chromium fails, so a browser check cannot silently disappear."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, sync_playwright

# Headless as root, with nothing reaching out to the network on its own.
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str | None:
    if Path("/usr/bin/chromium").exists():
        return "/usr/bin/chromium"
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def launch_chromium() -> Iterator[Browser]:
    """The body of a ``browser`` fixture: the launched browser, closed afterwards."""
    executable = chromium_path()
    if executable is None:
        if os.environ.get("CI"):
            pytest.fail("CI: no Chromium found (dev.sh test installs the Debian package)")
        pytest.skip("no Chromium on this machine (bash dev.sh test installs it)")
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=executable, args=ARGS)
        yield launched
        launched.close()
