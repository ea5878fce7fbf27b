"""JupyterLab, as requirements.txt installs it, renders MyST: the jupyterlab-myst extension
is installed, enabled and compatible with that JupyterLab (a newer JupyterLab can leave
it installed but disabled, and the exercise boxes then show as raw text)."""
import subprocess
import sys
from pathlib import Path

import pytest

JUPYTER = Path(sys.executable).with_name("jupyter")


def test_jupyterlab_myst_is_enabled_and_compatible():
    pytest.importorskip("jupyterlab")  # not in make test-lowest's environment
    run = subprocess.run([str(JUPYTER), "labextension", "list"], capture_output=True,
                         text=True, timeout=120)
    report = run.stdout + run.stderr
    lines = [line for line in report.splitlines() if "jupyterlab-myst" in line]
    assert lines, f"jupyterlab-myst is not installed:\n{report}"
    assert "enabled" in lines[0] and "OK" in lines[0], report
    assert "is not compatible" not in report, report
