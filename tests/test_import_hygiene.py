"""The core and the sources must work without Textual, so they can be tested and
benchmarked alone."""

import subprocess
import sys

import pytest

HEADLESS_MODULES = [
    "haven_top.core.snapshot",
    "haven_top.core.state",
    "haven_top.sources.scraper",
    "haven_top.sources.health",
    "haven_top.sources.system",
    "haven_top.core.exposition",
    "haven_top.core.rates",
    "haven_top.core.quantile",
    "haven_top.core.series",
    "haven_top.core.aggregate",
    "haven_top.core.target",
    "haven_top.core.sanitize",
    "haven_top.core.logrecord",
    "haven_top.core.logstore",
    "haven_top.core.logfilter",
    "haven_top.core.logselection",
    "haven_top.core.logrequests",
    "haven_top.sources.logstreams",
    "haven_top.sources.log_websocket",
    "haven_top.sources.log_files",
    "haven_top.sources.log_setup",
    "haven_top.sources.collector",
    "haven_top.config",
    "haven_top.headless",
    "haven_top.cli",
    "haven_top.core.alerts",
    "haven_top.sources.promql",
    "haven_top.sources.prometheus_api",
    "haven_top.sources.prometheus_snapshot",
    "haven_top.sources.prometheus",
    "haven_top.prometheus_cli",
]


@pytest.mark.parametrize("module", HEADLESS_MODULES)
def test_headless_module_skips_textual(module: str) -> None:
    code = f"import sys, {module}; print('textual' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"
