"""The lesson map, read from executed notebooks: each lesson's title, what it teaches, and its key figure.

    python tools/lesson_map.py build/notebooks --figures docs/figures   # the README's small PNGs, LL.png

What a lesson teaches is the markdown list under "By the end of this lesson you will" in its
first markdown cell; its title is that cell's "# Lesson LL — ..." heading; its key figure is the
first PNG output of the executed notebook (``make notebooks`` writes them to build/notebooks/), or of
the first cell tagged ``key-figure`` (cell metadata ``"tags": ["key-figure"]``) where a lesson has one.
tools/build_site.py builds the HTML course from the same map.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

GOALS_HEADING = "By the end of this lesson you will"
KEY_FIGURE_TAG = "key-figure"
THUMBNAIL_WIDTH = 400  # pixels: the README's lesson map


@dataclass(frozen=True)
class Lesson:
    """One executed lesson notebook, as the lesson map shows it."""

    number: str  # "01"
    notebook: Path  # the executed notebook
    title: str  # "The empirical NTK from scratch"
    goals: str  # the markdown list under GOALS_HEADING, verbatim (math included)
    key_figure: bytes  # PNG: the first figure of the cell tagged KEY_FIGURE_TAG, else of the notebook

    @property
    def html_name(self) -> str:
        return self.notebook.with_suffix(".html").name


def _markdown(cell: dict) -> str:
    source = cell["source"]
    return source if isinstance(source, str) else "".join(source)


def read_lesson(path: Path) -> Lesson:
    """The lesson map entry of one executed notebook; ValueError naming what is missing.

    Cost: reads the notebook once (O(file size)).
    """
    path = Path(path)
    notebook = json.loads(path.read_text(encoding="utf-8"))
    number = path.name[:2]
    first = next((_markdown(c) for c in notebook["cells"] if c["cell_type"] == "markdown"), "")
    heading = re.search(rf"^# Lesson {number}\s*[—-]\s*(.+)$", first, re.M)
    if heading is None:
        raise ValueError(f"{path.name}: the first markdown cell has no '# Lesson {number} — <title>' heading")
    lines = first.splitlines()
    start = next((i for i, line in enumerate(lines) if GOALS_HEADING in line), None)
    if start is None:
        raise ValueError(f"{path.name}: the first markdown cell has no '{GOALS_HEADING}' list")
    goals = []
    for line in lines[start + 1:]:  # the list runs to the first blank line
        if not line.strip():
            break
        goals.append(line)
    if not goals or not re.match(r"\s*(\d+\.|[-*])\s", goals[0]):
        raise ValueError(f"{path.name}: '{GOALS_HEADING}' must be followed by a markdown list")
    code = [cell for cell in notebook["cells"] if cell["cell_type"] == "code"]
    tagged = [cell for cell in code if KEY_FIGURE_TAG in cell.get("metadata", {}).get("tags", [])]
    figures = [output["data"]["image/png"] for cell in tagged + code
               for output in cell.get("outputs", []) if "image/png" in output.get("data", {})]
    if not figures:
        raise ValueError(f"{path.name} has no figure output: is it an executed notebook (make notebooks)?")
    png = figures[0] if isinstance(figures[0], str) else "".join(figures[0])
    return Lesson(number, path, heading.group(1).strip(), "\n".join(goals), base64.b64decode(png))


def read_lessons(directory: Path) -> list[Lesson]:
    """Every lesson notebook (``LL_name.ipynb``) in ``directory``, in lesson order. Cost: reads each once."""
    paths = sorted(p for p in Path(directory).glob("*.ipynb") if re.fullmatch(r"\d\d_\w+\.ipynb", p.name))
    if not paths:
        raise ValueError(f"no executed lesson notebooks (LL_name.ipynb) in {directory}: run `make notebooks` first")
    return [read_lesson(p) for p in paths]


def thumbnail(png: bytes, width: int = THUMBNAIL_WIDTH) -> bytes:
    """``png`` scaled to ``width`` pixels wide (never enlarged), as a small palette PNG.

    Cost: O(pixels) with Pillow's Lanczos filter.
    """
    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("RGB")
    if image.width > width:
        image = image.resize((width, round(image.height * width / image.width)), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    image.quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(out, format="PNG", optimize=True)
    return out.getvalue()


def write_figures(lessons: list[Lesson], directory: Path, width: int = THUMBNAIL_WIDTH) -> list[Path]:
    """Write each lesson's key figure as ``directory/LL.png``, a ``width``-pixel thumbnail; returns the paths.

    Cost: one :func:`thumbnail` per lesson."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for lesson in lessons:
        path = directory / f"{lesson.number}.png"
        path.write_bytes(thumbnail(lesson.key_figure, width))
        paths.append(path)
    return paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("executed", type=Path, help="directory of executed notebooks (build/notebooks)")
    parser.add_argument("--figures", type=Path, required=True, help="where to write LL.png (docs/figures)")
    parser.add_argument("--width", type=int, default=THUMBNAIL_WIDTH, help="thumbnail width in pixels")
    args = parser.parse_args(argv)
    lessons = read_lessons(args.executed)
    for lesson, path in zip(lessons, write_figures(lessons, args.figures, args.width)):
        print(f"{path}  ({path.stat().st_size // 1024} kB)  Lesson {lesson.number}: {lesson.title}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
