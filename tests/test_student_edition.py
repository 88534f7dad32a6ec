"""The student edition is the chapters minus exactly their solutions."""

import re
from pathlib import Path

import jupytext
import nbformat
import pytest

from xent.student_edition import ANSWER_CELL, strip_solutions, write_student_edition

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
CHAPTERS = sorted(NOTEBOOKS.glob("[0-9]*.md"))


def _code_cells(text):
    return [c.source for c in jupytext.reads(text, fmt="md:myst").cells if c.cell_type == "code"]


def _solution_code(text):
    """The code cells that sit inside solution blocks, found independently of strip_solutions."""
    blocks = re.findall(r"^```\{solution-start\}.*?^```\{solution-end\}\n```$", text, re.M | re.S)
    return [cell for block in blocks for cell in _code_cells(block)]


def test_every_chapter_has_exercises_with_solutions():
    assert CHAPTERS
    for chapter in CHAPTERS:
        text = chapter.read_text()
        assert re.search(r"^## Exercises", text, re.M), chapter.name
        n_exercises = len(re.findall(r"^```\{exercise-start\}", text, re.M))
        n_solutions = len(re.findall(r"^```\{solution-start\}", text, re.M))
        assert n_exercises >= 3 and n_solutions == n_exercises, chapter.name


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.name)
def test_student_chapter_keeps_everything_but_the_solutions(chapter):
    source = chapter.read_text()
    student = strip_solutions(source)
    assert "solution-start" not in student and "solution-end" not in student
    assert student.count("{exercise-start}") == source.count("{exercise-start}")
    # every code cell outside a solution is kept, in order; no solution code is left
    solution_code = _solution_code(source)
    assert solution_code, "a chapter's solutions carry runnable code"
    kept = [c for c in _code_cells(student) if c != "# Your answer here."]
    expected = [c for c in _code_cells(source) if c not in solution_code]
    assert kept == expected
    assert student.count(ANSWER_CELL) == source.count("{solution-start}")


def test_unterminated_solution_is_an_error():
    with pytest.raises(ValueError, match="no closing solution-end"):
        strip_solutions("```{solution-start} ex\n:class: dropdown\n```\ntext\n")


def test_written_notebooks_are_valid(tmp_path):
    written = write_student_edition(NOTEBOOKS, tmp_path)
    assert len(written) == 2 * len(CHAPTERS)
    for path in written:
        if path.suffix == ".ipynb":
            nbformat.validate(nbformat.read(path, as_version=4))
            assert "solution-start" not in path.read_text()
