"""The built course (make site) in a real browser: headless Chromium, offline.

Opens the index and every lesson page of build/site (or $NTK_LESSONS_SITE) from disk with the
browser's network switched off, and checks that each page loads without console errors,
fetches nothing from the network, shows every figure (a non-empty image), and renders its
math (MathJax output for every formula, no MathJax error, no raw TeX left in the text).
Saves a screenshot of each page to <site>/screenshots/. Needs Chromium and chromedriver
(Debian: apt-get install chromium chromium-driver) and selenium; skipped when any is missing.
"""

import os
import shutil
from pathlib import Path

import pytest

pytestmark = pytest.mark.site

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


@pytest.fixture(scope="module")
def browser():
    if not (SITE / "index.html").is_file():
        pytest.skip(f"no site at {SITE}: build it with `make site`")
    if CHROMIUM is None or CHROMEDRIVER is None:
        pytest.skip("Chromium or chromedriver is missing: apt-get install chromium chromium-driver")
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install -e '.[dev]')")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,1600",
                 "--host-resolver-rules=MAP * ~NOTFOUND"):  # no name resolves: nothing can reach the network
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=webdriver.ChromeService(executable_path=CHROMEDRIVER), options=options)
    driver.set_network_conditions(offline=True, latency=0, download_throughput=0, upload_throughput=0)
    driver.set_script_timeout(120)
    (SITE / "screenshots").mkdir(exist_ok=True)
    yield driver
    driver.quit()


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
    assert report["rendered"] == report["formulas"], f"{page}: {report['rendered']} of {report['formulas']} formulas rendered"
    for raw in ("$$", "\\(", "\\begin{"):
        assert raw not in report["prose"], f"raw TeX {raw!r} left in the text of {page}"
    if page == "index.html":  # the lesson map: one section, one key figure per lesson
        assert report["headings"] == len(PAGES) - 1 == len(report["images"])
