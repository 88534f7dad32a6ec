"""Offer each executed chapter as a notebook: the download menu's ".ipynb" entry.

sphinx-book-theme lists a `.ipynb` download when the page context names one under `_sources/`,
but only fills it in when a launch service (Binder, JupyterHub, ...) is configured, and the
copy it makes (from `_build/jupyter_execute`) has no outputs when myst-nb ran in cache mode. This
book is read offline, so we write the notebook ourselves: the chapter's cells merged with the
outputs of its execution in the build's jupyter-cache, before the theme builds its buttons.
"""

from pathlib import Path

import nbformat
from jupyter_cache import get_cache
from myst_nb.core.read import read_myst_markdown_notebook


def add_executed_notebook(app, pagename, templatename, context, doctree):
    source = Path(app.env.doc2path(pagename))
    cache_dir = Path(app.outdir).parent / ".jupyter_cache"
    if source.suffix != ".md" or not cache_dir.exists():
        return
    notebook = read_myst_markdown_notebook(source.read_text(encoding="utf8"))
    if not any(cell.cell_type == "code" for cell in notebook.cells):
        return  # a plain page, not a chapter
    try:
        _, executed = get_cache(cache_dir).merge_match_into_notebook(notebook)
    except KeyError:  # not executed in this build's cache (execution off): nothing to offer
        return
    target = Path(app.outdir) / "_sources" / f"{pagename}.ipynb"
    target.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(executed, target)
    context["ipynb_source"] = f"{pagename}.ipynb"


def setup(app):
    # sphinx-book-theme adds its header buttons at priority 501; run before it
    app.connect("html-page-context", add_executed_notebook, priority=400)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
