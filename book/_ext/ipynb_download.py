"""Offer each executed chapter as a notebook: the download menu's ".ipynb" entry.

myst-nb writes every executed notebook, outputs included, to `_build/jupyter_execute/`.
sphinx-book-theme lists a `.ipynb` download when the page context names one under `_sources/`,
but only copies it there when a launch service (Binder, JupyterHub, ...) is configured; this
book is read offline, so we copy it ourselves, before the theme builds its buttons.
"""

from pathlib import Path
from shutil import copy2


def add_executed_notebook(app, pagename, templatename, context, doctree):
    executed = Path(app.outdir).parent / "jupyter_execute" / f"{pagename}.ipynb"
    if not executed.exists():
        return
    target = Path(app.outdir) / "_sources" / f"{pagename}.ipynb"
    target.parent.mkdir(parents=True, exist_ok=True)
    copy2(executed, target)
    context["ipynb_source"] = f"{pagename}.ipynb"


def setup(app):
    # sphinx-book-theme adds its header buttons at priority 501; run before it
    app.connect("html-page-context", add_executed_notebook, priority=400)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
