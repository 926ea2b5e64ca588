"""The course site: how tools/build_site.py turns executed notebooks into pages, and the built course
(make site) in a real browser -- headless Chromium, offline.

The browser tests (marked ``site``; `make site-test`) open the index and every lesson page of
build/site (or $NTK_LESSONS_SITE) from disk with the browser's network switched off, and check that
each page loads without console errors, fetches nothing from the network, shows every figure (a
non-empty image), and renders its math (MathJax output for every formula, no MathJax error, no raw
TeX left in the text). They save a screenshot of each page to <site>/screenshots/. They need Chromium
and chromedriver (Debian: apt-get install chromium chromium-driver) and selenium, and are skipped
when any is missing or the site is not built.
"""

import base64
import importlib.util
import io
import json
import os
import re
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SITE = Path(os.environ.get("NTK_LESSONS_SITE", ROOT / "build" / "site"))
PAGES = ["index.html"] + sorted(p.name for p in SITE.glob("[0-9][0-9]_*.html"))
CHROMIUM = next(filter(None, map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))), None)
CHROMEDRIVER = shutil.which("chromedriver")

# What the page shows once MathJax has typeset it, gathered in the browser.
PAGE_REPORT_JS = """
const done = arguments[0];
MathJax.Hub.Queue(() => {
  const prose = [...document.querySelectorAll('.jp-RenderedMarkdown')].map(el => {
    const copy = el.cloneNode(true);
    copy.querySelectorAll('code, pre, script').forEach(c => c.remove());
    return copy.textContent;
  }).join('\\n');
  done({
    images: [...document.images].map(i => ({src: i.currentSrc.slice(0, 60), complete: i.complete,
                                            width: i.naturalWidth, height: i.naturalHeight})),
    formulas: document.querySelectorAll('script[type^="math/tex"]').length,
    rendered: document.querySelectorAll('span.MathJax').length,
    errors: document.querySelectorAll('.MathJax_Error, merror').length,
    prose: prose,
    resources: performance.getEntriesByType('resource').map(r => r.name),
    headings: document.querySelectorAll('h2').length,
  });
});
"""


def _tool(name):
    """tools/<name>.py as a module (tools/ is a folder of scripts, not a package)."""
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, ROOT / "tools" / f"{name}.py")
        sys.modules[name] = importlib.util.module_from_spec(spec)  # dataclasses look their module up there
        spec.loader.exec_module(sys.modules[name])
    return sys.modules[name]


def _png(width, height):
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(out, format="PNG")
    return base64.b64encode(out.getvalue()).decode()


def _executed_lesson(path, *, goals="1. compute $J$;\n2. see $\\Theta$.", with_widget=True):
    """A small executed lesson notebook: header, a figure, and an interact widget whose Output captured a figure."""
    view = {"model_id": "box", "version_major": 2, "version_minor": 0}
    state = {
        "box": {"model_name": "VBoxModel", "state": {"children": ["IPY_MODEL_slider", "IPY_MODEL_out"]}},
        "slider": {"model_name": "SelectionSliderModel",
                   "state": {"description": "width", "index": 1, "_options_labels": ["4", "64"]}},
        "out": {"model_name": "OutputModel", "state": {"outputs": [
            {"output_type": "display_data", "metadata": {}, "data": {"image/png": _png(30, 20)}}]}},
    }
    header = ("[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]"
              f"(https://colab.research.google.com/github/x/y/blob/main/notebooks/{path.name})\n\n"
              f"# Lesson {path.name[:2]} — A test lesson\n\nSome $x$.\n\n"
              f"**By the end of this lesson you will**\n{goals}\n\nMore.")
    cells = [{"cell_type": "markdown", "id": "header", "metadata": {}, "source": header},
             {"cell_type": "code", "id": "plot", "execution_count": 1, "metadata": {}, "source": "plot()", "outputs": [
                 {"output_type": "display_data", "metadata": {}, "data": {"image/png": _png(80, 60)}}]}]
    if with_widget:
        cells.append({"cell_type": "code", "id": "explore", "execution_count": 2, "metadata": {}, "source": "explore()",
                      "outputs": [
            {"output_type": "display_data", "metadata": {},
             "data": {"application/vnd.jupyter.widget-view+json": view, "text/plain": "interactive(...)"}}]})
    notebook = {"cells": cells, "nbformat": 4, "nbformat_minor": 5,
                "metadata": {"widgets": {"application/vnd.jupyter.widget-state+json": {"state": state}}}}
    path.write_text(json.dumps(notebook))


def test_build_site_makes_offline_pages_with_widget_fallbacks(tmp_path):
    pytest.importorskip("nbconvert")
    pytest.importorskip("jupyter_server_mathjax")
    build_site = _tool("build_site")
    executed = tmp_path / "executed"
    executed.mkdir()
    _executed_lesson(executed / "01_first.ipynb")
    _executed_lesson(executed / "02_second.ipynb", with_widget=False)
    pages = build_site.build_site(executed, tmp_path / "site")
    assert [p.name for p in pages] == ["index.html", "01_first.html", "02_second.html"]
    index = pages[0].read_text()
    assert 'href="01_first.html"' in index and 'src="figures/01.png"' in index and "see $\\Theta$" in index
    lesson = pages[1].read_text()
    assert "width = 64" in lesson and lesson.count("<img ") == 2  # its figure + the widget's capture
    assert "widget-state+json" not in lesson and "colab-badge.svg" not in lesson
    assert "Open this lesson in Colab" in lesson
    assert 'href="02_second.html"' in lesson and 'href="index.html"' in lesson
    scripts = re.findall(r'<script[^>]+src="([^"]+)"', index + lesson)
    assert scripts and all(src.startswith(("mathjax/", "data:")) for src in scripts), scripts
    assert (tmp_path / "site/mathjax/MathJax.js").is_file()
    assert (tmp_path / "site/mathjax/config/local/ntk-lessons.js").is_file()


@pytest.mark.parametrize("goals, message", [("no list here", "must be followed by a markdown list"),
                                            ("", "has no 'By the end")])
def test_lesson_map_names_what_is_missing(tmp_path, goals, message):
    lesson_map = _tool("lesson_map")
    path = tmp_path / "01_first.ipynb"
    _executed_lesson(path, goals=goals)
    if not goals:  # no heading at all
        notebook = json.loads(path.read_text())
        header = notebook["cells"][0]["source"]
        notebook["cells"][0]["source"] = header.replace("**By the end of this lesson you will**", "")
        path.write_text(json.dumps(notebook))
    with pytest.raises(ValueError, match=message):
        lesson_map.read_lesson(path)


def test_lesson_map_reads_title_goals_and_first_figure(tmp_path):
    lesson_map = _tool("lesson_map")
    path = tmp_path / "03_third.ipynb"
    _executed_lesson(path, goals="1. one;\n   still one;\n2. two.")
    lesson = lesson_map.read_lesson(path)
    assert (lesson.number, lesson.title, lesson.html_name) == ("03", "A test lesson", "03_third.html")
    assert lesson.goals == "1. one;\n   still one;\n2. two."
    from PIL import Image

    assert Image.open(io.BytesIO(lesson.key_figure)).size == (80, 60)  # the first figure, not the widget's
    thumb = Image.open(io.BytesIO(lesson_map.thumbnail(_wide_png(), width=100)))
    assert thumb.size == (100, 25)


def test_a_cell_tagged_key_figure_chooses_the_key_figure(tmp_path):
    lesson_map = _tool("lesson_map")
    path = tmp_path / "01_first.ipynb"
    _executed_lesson(path)
    notebook = json.loads(path.read_text())
    figure = {"output_type": "display_data", "metadata": {}, "data": {"image/png": _png(50, 40)}}
    notebook["cells"].append({"cell_type": "code", "id": "key", "execution_count": 3,
                              "metadata": {"tags": ["key-figure"]}, "source": "main_plot()", "outputs": [figure]})
    path.write_text(json.dumps(notebook))
    from PIL import Image

    assert Image.open(io.BytesIO(lesson_map.read_lesson(path).key_figure)).size == (50, 40)


def _wide_png():
    return base64.b64decode(_png(400, 100))


@pytest.fixture(scope="module")
def browser():
    if not (SITE / "index.html").is_file():
        pytest.skip(f"no site at {SITE}: build it with `make site`")
    if CHROMIUM is None or CHROMEDRIVER is None:
        pytest.skip("Chromium or chromedriver is missing: apt-get install chromium chromium-driver")
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install -e '.[dev]')")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--window-size=1280,1600", "--host-resolver-rules=MAP * ~NOTFOUND"):  # no host name resolves
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=webdriver.ChromeService(executable_path=CHROMEDRIVER), options=options)
    driver.set_network_conditions(offline=True, latency=0, download_throughput=0, upload_throughput=0)
    driver.set_script_timeout(120)
    (SITE / "screenshots").mkdir(exist_ok=True)
    yield driver
    driver.quit()


@pytest.mark.site
@pytest.mark.parametrize("page", PAGES)
def test_page_renders_offline(browser, page):
    browser.get((SITE / page).resolve().as_uri())
    report = browser.execute_async_script(PAGE_REPORT_JS)
    console = [entry for entry in browser.get_log("browser") if entry["level"] in ("SEVERE", "ERROR")]
    browser.save_screenshot(str(SITE / "screenshots" / page.replace(".html", ".png")))

    assert console == [], f"console errors on {page}: {console}"
    remote = [url for url in report["resources"] if not url.startswith(("file:", "data:"))]
    assert remote == [], f"{page} asked the network for {remote}"
    assert report["images"], f"{page} shows no figure"
    empty = [image for image in report["images"] if not (image["complete"] and image["width"] and image["height"])]
    assert empty == [], f"figures that did not load on {page}: {empty}"
    assert report["formulas"] > 0 and report["errors"] == 0, report
    assert report["rendered"] == report["formulas"], f"{page}: {report['rendered']} of {report['formulas']} typeset"
    for raw in ("$$", "\\(", "\\begin{"):
        assert raw not in report["prose"], f"raw TeX {raw!r} left in the text of {page}"
    if page == "index.html":  # the lesson map: one section, one key figure per lesson
        assert report["headings"] == len(PAGES) - 1 == len(report["images"])
