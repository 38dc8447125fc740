"""Real-browser test of the static book that `make site` builds in build/site/.

    python tests/browser/run_site_test.py [--site build/site]

`make test-site` runs it after `make site`, and CI runs it after the JupyterLab test
(.ci/browser). It serves the book from a local HTTP server, as GitHub Pages would, and drives
Debian's Chromium, headless, with Playwright (requests that leave the machine are blocked, so the
test runs offline and checks only what the book itself holds). It checks that

1. every page of the book opens (every .html file outside _static/), and every image on it that
   the book holds has loaded (complete, naturalWidth > 0); images from other sites (the Colab and
   Binder badges) are counted, not loaded;
2. no internal link is broken: every <a href> to the book itself names a file that exists, and a
   #fragment names an element id (or name) on that page;
3. the notebooks follow one another: each notebook page's "next" link opens the next notebook;
4. notebook 04's explorer shows its text output ("run this cell in JupyterLab…"), not a dead
   widget, and no page says "Error displaying widget";
5. the search page, asked for "tie", lists results.

It exits with status 0 when every check passed and 1 otherwise, printing what failed.
"""

from __future__ import annotations

import argparse
import functools
import html.parser
import re
import sys
import threading
import time
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-extensions", "--mute-audio"]
FRONT_PAGE = "README.html"
SEARCH_WORD = "tie"
EXPLORER_TEXT = "Explorer: run this cell in JupyterLab"
PAGE_S = 30

# Every image on the page: wait until each one has loaded or failed, then list the broken ones.
IMAGES_JS = """async () => {
  const local = [], broken = [], external = [];
  for (const img of Array.from(document.images)) {
    const url = new URL(img.getAttribute('src') || '', document.baseURI);
    if (url.origin !== location.origin) { external.push(url.href); continue; }
    local.push(url.href);
    img.loading = 'eager';
    try { await img.decode(); } catch (error) { /* a broken image: checked below */ }
    if (!(img.complete && img.naturalWidth > 0)) broken.push(url.href);
  }
  return {local, broken, external};
}"""

LINKS_JS = """() => Array.from(document.querySelectorAll('a[href]'))
  .map(a => new URL(a.getAttribute('href'), document.baseURI))
  .filter(url => url.origin === location.origin)
  .map(url => url.pathname + url.hash)"""


class _Ids(html.parser.HTMLParser):
    """The ids (and anchor names) of one HTML file."""

    def __init__(self):
        super().__init__()
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name == "id" or (tag == "a" and name == "name"):
                self.ids.add(value or "")


@functools.cache
def ids_of(path: Path) -> frozenset[str]:
    parser = _Ids()
    parser.feed(path.read_text(encoding="utf-8", errors="replace"))
    return frozenset(parser.ids)


def target_file(site: Path, pathname: str) -> Path:
    path = site / unquote(pathname).lstrip("/")
    return path / "index.html" if pathname.endswith("/") else path


def link_problems(site: Path, page: str, links: list[str]) -> list[str]:
    """Links to the book itself whose file or #fragment does not exist."""
    problems = []
    for link in sorted(set(links)):
        pathname, _, fragment = link.partition("#")
        path = target_file(site, pathname)
        if not path.is_file():
            problems.append(f"{page} links to a missing file: {link}")
        elif fragment and path.suffix == ".html" and unquote(fragment) not in ids_of(path):
            problems.append(f"{page} links to a missing anchor: {link}")
    return problems


def book_pages(site: Path) -> list[str]:
    return sorted(str(p.relative_to(site)) for p in site.rglob("*.html")
                  if not p.relative_to(site).parts[0].startswith("_"))


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002  (the name http.server uses)
        pass


class _Server(ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        """A browser that leaves a page drops its connections: that is not an error here."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def serve(site: Path) -> tuple[ThreadingHTTPServer, str]:
    handler = functools.partial(_QuietHandler, directory=str(site))
    server = _Server(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def check_page(page_obj, url: str, site: Path, name: str) -> tuple[list[str], dict]:
    page_obj.goto(f"{url}/{name}", wait_until="load", timeout=PAGE_S * 1000)
    redirect = re.search(r'http-equiv="refresh" content="0; url=([^"]+)"',
                         (site / name).read_text(encoding="utf-8"))
    if redirect:  # index.html: it must lead to a page of the book
        target = str(Path(name).parent / redirect.group(1)).removeprefix("./")
        try:
            page_obj.wait_for_url(f"{url}/{target}", timeout=PAGE_S * 1000)
        except Exception as error:  # a timeout: the redirect did not happen
            return [f"{name} did not lead to {target} ({type(error).__name__})"], \
                {"local": [], "external": []}
        return link_problems(site, name, [f"/{target}"]), {"local": [], "external": []}
    images = page_obj.evaluate(IMAGES_JS)
    problems = [f"{name}: image did not load: {src}" for src in images["broken"]]
    problems += link_problems(site, name, page_obj.evaluate(LINKS_JS))
    if page_obj.get_by_text("Error displaying widget").count():
        problems.append(f"{name}: a widget shows 'Error displaying widget'")
    return problems, images


def check_notebook_order(page_obj, url: str, notebooks: list[str]) -> list[str]:
    """Each notebook page's "next" link leads to the next notebook, in order."""
    problems = []
    for current, following in zip(notebooks, notebooks[1:]):
        page_obj.goto(f"{url}/{current}", wait_until="load")
        nxt = page_obj.locator("a.right-next")
        if nxt.count() != 1:
            problems.append(f"{current}: {nxt.count()} 'next' links, expected one")
            continue
        nxt.click()
        page_obj.wait_for_load_state("load")
        if not page_obj.url.split("#")[0].endswith(following):
            problems.append(f"{current}: 'next' opens {page_obj.url}, expected {following}")
    return problems


def check_explorer(page_obj, url: str, notebooks: list[str]) -> list[str]:
    explorer = [n for n in notebooks if Path(n).name.startswith("04_")]
    if not explorer:
        return ["no notebook 04 in the book, so no explorer"]
    page_obj.goto(f"{url}/{explorer[0]}", wait_until="load")
    problems = []
    if page_obj.get_by_text(EXPLORER_TEXT).count() == 0:
        problems.append(f"{explorer[0]}: the explorer's text output ({EXPLORER_TEXT}…) is missing")
    if page_obj.locator(".jupyter-widgets, script[type*='widget-state']").count():
        problems.append(f"{explorer[0]}: the page holds a widget or widget state it cannot run")
    return problems


def check_search(page_obj, url: str) -> tuple[list[str], int]:
    page_obj.goto(f"{url}/search.html?q={SEARCH_WORD}", wait_until="load")
    results = page_obj.locator("#search-results ul.search li")
    try:  # Sphinx lists results one by one, then says "Search finished, found N pages …"
        page_obj.get_by_text("Search finished").wait_for(timeout=PAGE_S * 1000)
    except Exception as error:  # a timeout: the search never finished
        return [f"searching for {SEARCH_WORD!r} did not finish ({type(error).__name__})"], 0
    if results.count() == 0:
        return [f"searching for {SEARCH_WORD!r} listed no results"], 0
    return [], results.count()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--site", type=Path, default=ROOT / "build" / "site",
                        help="the built book (default: build/site)")
    args = parser.parse_args(argv)
    site = args.site.resolve()
    if not (site / FRONT_PAGE).is_file():
        print(f"{site / FRONT_PAGE} is missing: run `make site` first", file=sys.stderr)
        return 1
    if not Path(CHROMIUM).exists():
        print(f"{CHROMIUM} is missing: apt-get install -y chromium (.ci/browser does)",
              file=sys.stderr)
        return 1
    from playwright.sync_api import sync_playwright

    started = time.monotonic()
    pages = book_pages(site)
    notebooks = [p for p in pages if re.fullmatch(r"notebooks/\d\d_[^/]+\.html", p)]
    problems: list[str] = []
    counts = {"local": 0, "external": 0}
    server, url = serve(site)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            context = browser.new_context(viewport={"width": 1280, "height": 1000})
            # Offline: only the local server answers; a request elsewhere is blocked.
            context.route(re.compile(r"^(?!http://127\.0\.0\.1:).*"), lambda route: route.abort())
            page_obj = context.new_page()
            try:
                for name in pages:
                    try:
                        found, images = check_page(page_obj, url, site, name)
                    except Exception as error:  # a timeout or a page that would not open
                        found, images = [f"{name}: {type(error).__name__}: {error}"[:500]], \
                            {"local": [], "external": []}
                    problems += found
                    counts["local"] += len(images["local"])
                    counts["external"] += len(images["external"])
                if len(notebooks) < 2:
                    problems.append(f"the book has {len(notebooks)} notebook pages")
                problems += check_notebook_order(page_obj, url, notebooks)
                problems += check_explorer(page_obj, url, notebooks)
                found, results = check_search(page_obj, url)
                problems += found
            finally:
                browser.close()
    finally:
        server.shutdown()
    for required in (FRONT_PAGE, "docs/teaching.html"):
        if required not in pages:
            problems.append(f"the book has no {required}")

    seconds = time.monotonic() - started
    if problems:
        for problem in problems:
            print(f"FAILED {problem}", file=sys.stderr)
        print(f"site test failed after {seconds:.0f} s", file=sys.stderr)
        return 1
    print(f"site test passed: {len(pages)} pages ({len(notebooks)} notebooks), "
          f"{counts['local']} images loaded ({counts['external']} from other sites not loaded), "
          f"no broken internal link, search for {SEARCH_WORD!r}: {results} results, "
          f"in {seconds:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
