"""Build the course as a static HTML site from executed notebooks, with nbconvert's HTML exporter.

    python tools/build_site.py build/notebooks --out build/site     # after `make notebooks`

Writes ``index.html`` (the lesson map: each lesson's title, what it teaches and its key figure,
from tools/lesson_map.py), one ``LL_name.html`` per lesson with its outputs and figures, and
``mathjax/``, a copy of MathJax 2.7 from the jupyter-server-mathjax package, so that the pages
render their math with no network. The pages load nothing from the network: the Colab badge
becomes a plain link, and each ipywidgets output becomes its static fallback -- the outputs
its Output widgets captured when the notebook ran (the figure at the controls' starting
values), under a line naming those controls.
"""

from __future__ import annotations

import argparse
import copy
import re
import shutil
import sys
import time
from pathlib import Path

import nbformat
from nbconvert import HTMLExporter
from nbformat.v4 import new_markdown_cell, new_notebook, new_output

sys.path.insert(0, str(Path(__file__).resolve().parent))
import lesson_map  # noqa: E402  (tools/ is not a package)

COURSE_TITLE = "ntk-lessons: the empirical NTK and its sum-of-logits approximation"
COURSE_INTRO = (
    "A Jupyter-first course on the **empirical neural tangent kernel** (eNTK) and the **sum-of-logits "
    "approximation** (pNTK) of Mohamadi, Bae & Sutherland, *A Fast, Well-Founded Approximation to the Empirical "
    "Neural Tangent Kernel* (ICML 2023), backed by a small, tested JAX package. These pages show each lesson as "
    "it ran, outputs and figures included; to run and change them, open a lesson in Jupyter or on Colab."
)
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
MATHJAX_DIR = "mathjax"
# MathJax 2's documented place for a site's own settings (loaded by the URL's config list). The package ships
# the STIX-Web fonts only: HTML-CSS output uses them; the hidden assistive MathML (which would ask for the
# missing TeX fonts) starts off -- readers can switch it on in MathJax's menu; and the blank font MathJax
# measures against is looked up locally instead of at about:blank, which browsers refuse on file:// pages.
MATHJAX_LOCAL_CONFIG = """\
MathJax.Hub.Config({
  "HTML-CSS": {availableFonts: [], preferredFont: null, webFont: "STIX-Web", imageFont: null,
               styles: {"@font-face": {"font-family": "MathJax_Blank", src: "local('MathJax_Blank')"}}},
  menuSettings: {assistiveMML: false}
});
MathJax.Ajax.loadComplete("[MathJax]/config/local/ntk-lessons.js");
"""
MATHJAX_URL = f"{MATHJAX_DIR}/MathJax.js?config=TeX-AMS-MML_HTMLorMML-full,Safe,local/ntk-lessons"
# nbconvert's lab template loads require.js for widget and JavaScript outputs; the site has neither.
NO_REQUIRE_JS = "data:text/javascript,/*require.js is not needed: no widget or JavaScript outputs*/"
INDEX_FIGURE_WIDTH = 640  # pixels: each lesson's key figure on the index page
COLAB_BADGE = re.compile(r"\[!\[Open In Colab\]\([^)]*\)\]\(([^)]*)\)")


def vendor_mathjax(site: Path) -> Path:
    """Copy MathJax (from the installed jupyter-server-mathjax package) into ``site/mathjax``, with the site's
    settings in config/local/; returns that path. Cost: copies 12 MB."""
    import jupyter_server_mathjax

    source = Path(jupyter_server_mathjax.__file__).parent / "static"
    if not (source / "MathJax.js").is_file():
        raise FileNotFoundError(f"no MathJax.js in {source}: reinstall jupyter-server-mathjax")
    target = site / MATHJAX_DIR
    shutil.copytree(source, target, dirs_exist_ok=True)
    (target / "config" / "local").mkdir(parents=True, exist_ok=True)
    (target / "config" / "local" / "ntk-lessons.js").write_text(MATHJAX_LOCAL_CONFIG)
    return target


def _widget_descendants(model_id: str, state: dict) -> list[dict]:
    """The widget model ``model_id`` and every model under it (through ``children``), depth first."""
    model = state.get(model_id)
    if model is None:  # closed before the notebook finished (e.g. a finished tqdm bar with leave=False)
        return []
    found = [model]
    for child in model["state"].get("children", []):
        found += _widget_descendants(child.removeprefix("IPY_MODEL_"), state)
    return found


def _control_setting(model: dict) -> str | None:
    """ "width = 64" for a control with a description, else None."""
    state = model["state"]
    if not state.get("description"):
        return None
    if "_options_labels" in state and state.get("index") is not None:
        return f"{state['description']} = {state['_options_labels'][state['index']]}"
    return f"{state['description']} = {state['value']}" if "value" in state else None


def widget_fallback(output: dict, state: dict) -> list[dict]:
    """The static outputs that stand for one widget-view output.

    A widget with Output widgets under it (``ipywidgets.interact``) becomes a line naming its
    controls' starting values, then what those Output widgets captured (the figure drawn at
    those values). Other widgets (progress bars) become the text of their HTML/Label parts, or
    nothing. Cost: O(models under the widget).
    """
    models = _widget_descendants(output["data"][WIDGET_VIEW]["model_id"], state)
    captured = [o for m in models if m["model_name"] == "OutputModel" for o in m["state"].get("outputs", [])]
    if captured:
        settings = ", ".join(s for s in map(_control_setting, models) if s)
        note = (f"*Interactive in Jupyter or on Colab (controls: {settings}).* "
                "Below: what it showed at these starting values.")
        return [new_output("display_data", data={"text/markdown": note})] + [nbformat.from_dict(o) for o in captured]
    texts = [m["state"]["value"] for m in models if m["model_name"] in ("HTMLModel", "LabelModel")
             and str(m["state"].get("value", "")).strip()]
    return [new_output("display_data", data={"text/html": " ".join(texts)})] if texts else []


def for_the_site(notebook: nbformat.NotebookNode, lesson: lesson_map.Lesson, lessons: list[lesson_map.Lesson]):
    """A copy of an executed lesson notebook ready for static HTML: widget outputs replaced by their static
    fallbacks, the Colab badge as a plain link, a navigation line on top, and the lesson's title.
    Cost: O(notebook size) (one deep copy)."""
    notebook = copy.deepcopy(notebook)
    state = notebook.metadata.pop("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            cell.source = COLAB_BADGE.sub(r"[Open this lesson in Colab](\1)", cell.source)
        elif cell.cell_type == "code":
            outputs = []
            for output in cell.get("outputs", []):
                is_widget = WIDGET_VIEW in output.get("data", {})
                outputs += widget_fallback(output, state) if is_widget else [output]
            cell.outputs = outputs
    i = lessons.index(lesson)
    links = ["[Course index](index.html)"]
    if i > 0:
        links.insert(0, f"[← Lesson {lessons[i - 1].number}]({lessons[i - 1].html_name})")
    if i + 1 < len(lessons):
        links.append(f"[Lesson {lessons[i + 1].number} →]({lessons[i + 1].html_name})")
    notebook.cells.insert(0, new_markdown_cell(" · ".join(links)))
    notebook.metadata["title"] = f"Lesson {lesson.number} — {lesson.title}"
    return notebook


def index_notebook(lessons: list[lesson_map.Lesson], figures: str = "figures") -> nbformat.NotebookNode:
    """The index page as a notebook of markdown cells: the course, then per lesson its link, key figure and goals.
    ``figures``: the folder, relative to the page, holding LL.png. Cost: O(lessons)."""
    cells = [new_markdown_cell(f"# {COURSE_TITLE}\n\n{COURSE_INTRO}")]
    for lesson in lessons:
        cells.append(new_markdown_cell(
            f"## [Lesson {lesson.number} — {lesson.title}]({lesson.html_name})\n\n"
            f"![Lesson {lesson.number}: its key figure]({figures}/{lesson.number}.png)\n\n"
            f"**By the end of this lesson you will**\n{lesson.goals}"))
    notebook = new_notebook(cells=cells)
    notebook.metadata["title"] = COURSE_TITLE
    return notebook


def exporter() -> HTMLExporter:
    """nbconvert's HTML exporter (lab template) pointed at the site's own MathJax copy, loading nothing remote."""
    return HTMLExporter(template_name="lab", mathjax_url=MATHJAX_URL, require_js_url=NO_REQUIRE_JS)


def build_site(executed: Path, site: Path) -> list[Path]:
    """Build the site from the executed notebooks in ``executed`` into ``site``; returns the pages written.

    Cost: one nbconvert export per lesson (seconds each) and a copy of MathJax (12 MB).
    """
    lessons = lesson_map.read_lessons(executed)
    site.mkdir(parents=True, exist_ok=True)
    vendor_mathjax(site)
    lesson_map.write_figures(lessons, site / "figures", width=INDEX_FIGURE_WIDTH)
    html = exporter()
    pages = []
    for lesson in lessons:
        notebook = for_the_site(nbformat.read(lesson.notebook, as_version=4), lesson, lessons)
        body, _ = html.from_notebook_node(notebook, resources={"metadata": {"name": notebook.metadata["title"]}})
        pages.append(site / lesson.html_name)
        pages[-1].write_text(body, encoding="utf-8")
    body, _ = html.from_notebook_node(index_notebook(lessons), resources={"metadata": {"name": COURSE_TITLE}})
    pages.insert(0, site / "index.html")
    pages[0].write_text(body, encoding="utf-8")
    return pages


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("executed", type=Path, nargs="?", default=Path("build/notebooks"),
                        help="directory of executed notebooks (default: build/notebooks, from `make notebooks`)")
    parser.add_argument("--out", type=Path, default=Path("build/site"), help="where to write the site")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    pages = build_site(args.executed, args.out)
    print(f"built {len(pages)} pages in {time.perf_counter() - start:.1f} s: open {pages[0]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
