"""Course tooling that chapters never import: run notebooks in place (``execute``), write
the exercise version (``student``) and grade notebooks (``grade``).

Commands (installed with the package): ``cnnbook-execute``, ``cnnbook-student``,
``cnnbook-grade``; or ``python -m cnnbook.course.execute`` and so on.
"""
__all__: list[str] = []
