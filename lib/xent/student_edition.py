"""The student edition: every chapter with the worked solutions taken out.

Chapters mark each solution with sphinx-exercise's gated directives::

    ```{solution-start} ex-label
    :class: dropdown
    ```
    ...prose and code cells...
    ```{solution-end}
    ```

`strip_solutions` removes each such block, from its opening fence to the closing fence of
``solution-end``, and leaves one empty code cell in its place for the student's answer.
Everything else, the exercises included, is kept byte for byte.

Command line (what ``make student`` runs)::

    python -m xent.student_edition notebooks build/student

writes ``NN_name.md`` and ``NN_name.ipynb`` (no outputs) for every chapter ``notebooks/NN_*.md``.
"""

import argparse
import re
import sys
from pathlib import Path

_START = re.compile(r"^```\{solution-start\}")
_END = re.compile(r"^```\{solution-end\}")
ANSWER_CELL = "```{code-cell} ipython3\n# Your answer here.\n```\n"


def strip_solutions(text):
    """The chapter source `text` without its solution blocks (see the module docstring)."""
    out, lines, i = [], text.splitlines(keepends=True), 0
    while i < len(lines):
        if not _START.match(lines[i]):
            out.append(lines[i])
            i += 1
            continue
        start = i
        while i < len(lines) and not _END.match(lines[i]):
            i += 1
        if i + 1 >= len(lines) or lines[i + 1].strip() != "```":
            raise ValueError(f"solution starting at line {start + 1} has no closing solution-end")
        i += 2  # the solution-end line and its closing fence
        out.append(ANSWER_CELL)
    return "".join(out)


def write_student_edition(source_dir, out_dir):
    """Write the student edition of every chapter in `source_dir`; return the paths written."""
    import jupytext  # only the command needs it

    source_dir, out_dir = Path(source_dir), Path(out_dir)
    chapters = sorted(source_dir.glob("[0-9]*.md"))
    if not chapters:
        raise FileNotFoundError(f"no chapters (NN_*.md) in {source_dir}")
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for chapter in chapters:
        text = strip_solutions(chapter.read_text())
        md = out_dir / chapter.name
        md.write_text(text)
        ipynb = md.with_suffix(".ipynb")
        jupytext.write(jupytext.reads(text, fmt="md:myst"), ipynb)
        written += [md, ipynb]
    return written


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m xent.student_edition",
        description="Write the chapters without their worked solutions.",
    )
    parser.add_argument("source", type=Path, help="folder of chapter sources (notebooks/)")
    parser.add_argument("out", type=Path, help="folder for the student edition")
    args = parser.parse_args(argv)
    for path in write_student_edition(args.source, args.out):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
