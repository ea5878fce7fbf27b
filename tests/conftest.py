import os
import pathlib
import sys
import tempfile

sys.path.insert(0, str(pathlib.Path(__file__).parent))

# The tests (and the notebooks they run) record passed exercises in a scratch file, never
# in the reader's data folder (cnnbook.exercises.progress).
os.environ["CNNBOOK_PROGRESS_FILE"] = str(
    pathlib.Path(tempfile.mkdtemp(prefix="cnnbook-progress-")) / "progress.json")


import pytest  # noqa: E402
import torch  # noqa: E402


@pytest.fixture
def torch_float64():
    """PyTorch twins built in float64 (the default dtype restored after the test); a test
    module asks for it with pytestmark = pytest.mark.usefixtures("torch_float64")."""
    before = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(before)
