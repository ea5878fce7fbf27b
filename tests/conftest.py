import os
import pathlib
import sys
import tempfile

sys.path.insert(0, str(pathlib.Path(__file__).parent))

# The tests (and the notebooks they run) record passed exercises in a scratch file, never
# in the reader's data folder (cnnbook.exercises.progress).
os.environ["CNNBOOK_PROGRESS_FILE"] = str(
    pathlib.Path(tempfile.mkdtemp(prefix="cnnbook-progress-")) / "progress.json")
