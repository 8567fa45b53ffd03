"""Open every page of a built book in headless Chromium and report what a reader would run into.

Usage: python scripts/browser_check.py [--html book/_build/html] [--screenshots DIR]
                                       [--widths 1280,400] [--chromium /usr/bin/chromium]

Builds nothing (run `jupyter-book build book` first); serves the build on 127.0.0.1 and opens each
page at each width. Exit 0 when every page is clean, 1 with the list of problems, 2 on bad usage.
No browser (Debian's `chromium`) or no Python package `playwright` (the `browser` extra) prints
"SKIPPED: ..." and exits 0. Problems:
- broken link or image: an href/src/refresh target whose file is not in the build, an #anchor
  missing from its page, a request to the book answered with status >= 400, an <img> of the book
  that does not decode (or decodes to width 0);
- a console error or uncaught exception from the book's own code (anything served from the
  build). Requests to other hosts are blocked (the book must work offline); the messages they
  cause are third-party noise: not failed, but listed ("ignored: ...");
- a code line wider than its box: scrollWidth > clientWidth on a `div.highlight pre` (cell
  inputs, outputs and code blocks, collapsed ones opened first);
- a page wider than the window, which the reader would have to scroll sideways.
--screenshots DIR saves full-page PNGs of the landing page and the 03 page at every width.
"""
from __future__ import annotations

import argparse
import functools
import http.server
import sys
import threading
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urljoin, urlsplit

ROOT = Path(__file__).resolve().parents[1]
SKIPPED_DIRS = {"_static", "_sources", "_images", "_sphinx_design_static", "_panels_static"}
SCREENSHOT_PAGES = {"landing": "index.html", "03_subset_size": "executed/03_subset_size.html"}
LINK_ATTRIBUTES = {("a", "href"), ("link", "href"), ("img", "src"), ("script", "src"), ("source", "src")}

OVERFLOW_JS = """() => {
  document.querySelectorAll('details').forEach(d => { d.open = true; });
  const wide = [];
  for (const pre of document.querySelectorAll('div.highlight pre')) {
    if (pre.scrollWidth > pre.clientWidth + 1) {
      const lines = pre.textContent.split('\\n');
      wide.push(lines.reduce((a, b) => (b.length > a.length ? b : a), '').trim().slice(0, 70));
    }
  }
  const page = document.documentElement.scrollWidth - window.innerWidth;
  return {wide, page};
}"""

IMAGES_JS = """async () => {
  const bad = [];
  for (const img of Array.from(document.images)) {
    if (!img.currentSrc.startsWith(location.origin) && !img.currentSrc.startsWith('data:')) continue;
    img.loading = 'eager';
    const decoded = await Promise.race([img.decode().then(() => true, () => false),
                                        new Promise(r => setTimeout(() => r(false), 10000))]);
    if (!decoded || (img.naturalWidth === 0 && !/\\.svg([?#]|$)/i.test(img.currentSrc)))
      bad.push(img.getAttribute('src'));
  }
  return bad;
}"""


class _PageParser(HTMLParser):
    """The link targets and element ids of one HTML page."""

    def __init__(self):
        super().__init__()
        self.targets: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        anchors = ("id", "name") if tag == "a" else ("id",)
        self.ids.update(attrs[name] for name in anchors if attrs.get(name))
        for wanted_tag, attribute in LINK_ATTRIBUTES:
            if tag == wanted_tag and attrs.get(attribute):
                self.targets.append(attrs[attribute])
        if tag == "meta" and (attrs.get("http-equiv") or "").lower() == "refresh":
            content = attrs.get("content") or ""
            if "url=" in content.lower():
                self.targets.append(content[content.lower().index("url=") + 4:].strip(" '\""))


def parse_page(html: str) -> tuple[list[str], set[str]]:
    """Link targets (href/src of a, link, img, script, source; a meta refresh) and ids of a page."""
    parser = _PageParser()
    parser.feed(html)
    return parser.targets, parser.ids


def book_pages(html_root: Path) -> list[str]:
    """Every HTML page of a build, as paths relative to its root, without the asset folders."""
    pages = [p.relative_to(html_root).as_posix() for p in html_root.rglob("*.html")]
    return sorted(p for p in pages if PurePosixPath(p).parts[0] not in SKIPPED_DIRS)


def resolve(page: str, target: str) -> tuple[str, str] | None:
    """(file path relative to the root, #fragment) a link on `page` points to; None if external."""
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or target.startswith("//"):
        return None
    path = unquote(urlsplit(urljoin(f"/{page}", target)).path).lstrip("/")
    if path == "" or path.endswith("/"):
        path += "index.html"
    return path, unquote(parts.fragment)


def broken_links(html_root: Path, pages: list[str]) -> list[str]:
    """Internal links of `pages` whose file is not in the build or whose #anchor is not on its page."""
    ids: dict[str, set[str]] = {}

    def ids_of(path: str) -> set[str]:
        if path not in ids:
            ids[path] = parse_page((html_root / path).read_text(errors="replace"))[1]
        return ids[path]

    problems = []
    for page in pages:
        for target in parse_page((html_root / page).read_text(errors="replace"))[0]:
            resolved = resolve(page, target)
            if resolved is None:
                continue
            path, fragment = resolved
            if not (html_root / path).is_file():
                problems.append(f"{page}: broken link {target}")
            elif fragment and path.endswith(".html") and fragment not in ids_of(path):
                problems.append(f"{page}: broken anchor {target}")
    return sorted(set(problems))


@dataclass
class Findings:
    problems: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)


def _is_local(url: str, origin: str) -> bool:
    return url.startswith(origin) or url.startswith("data:") or url in ("", "about:blank")


def check_page(page, url: str, origin: str, label: str, findings: Findings) -> None:
    """Load one page in a Playwright page and add its problems (and the noise it ignored)."""
    def on_console(message):
        if message.type != "error":
            return
        where = (message.location or {}).get("url", "")
        text = f"console error: {message.text.strip()[:200]}" + (f" ({where})" if where else "")
        external = not _is_local(where, origin) or ("net::ERR_FAILED" in message.text and not where)
        (findings.ignored if external else findings.problems).append(f"{label}: {text}")

    def on_pageerror(error):
        stack = error.stack or ""
        external = origin not in stack and "http" in stack
        (findings.ignored if external else findings.problems).append(f"{label}: uncaught {error}")

    def on_response(response):
        if response.url.startswith(origin) and response.status >= 400:
            findings.problems.append(f"{label}: HTTP {response.status} for {response.url[len(origin):]}")

    page.on("console", on_console)
    page.on("pageerror", on_pageerror)
    page.on("response", on_response)
    page.goto(url, wait_until="load")
    page.wait_for_load_state("networkidle")
    for src in page.evaluate(IMAGES_JS):
        findings.problems.append(f"{label}: broken image {src}")
    layout = page.evaluate(OVERFLOW_JS)
    for line in layout["wide"]:
        findings.problems.append(f"{label}: code line wider than its box: {line!r}")
    if layout["page"] > 1:
        findings.problems.append(f"{label}: page {layout['page']} px wider than the window")
    page.remove_listener("console", on_console)
    page.remove_listener("pageerror", on_pageerror)
    page.remove_listener("response", on_response)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def serve(html_root: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    """Serve a folder on 127.0.0.1 (a free port) in a daemon thread; returns the server and its origin."""
    handler = functools.partial(_QuietHandler, directory=str(html_root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/"


def browse(html_root: Path, pages: list[str], widths: list[int], chromium: Path,
           screenshots: Path | None) -> Findings:
    """Open every page at every width; take the screenshots; collect problems and ignored noise."""
    from playwright.sync_api import sync_playwright

    findings = Findings()
    server, origin = serve(html_root)
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(chromium))
            for width in widths:
                context = browser.new_context(viewport={"width": width, "height": 900})
                context.route("**/*", lambda route: route.continue_() if _is_local(route.request.url, origin)
                              else route.abort())
                page = context.new_page()
                for name in pages:
                    check_page(page, origin + name, origin, f"{width}px {name}", findings)
                fresh = context.new_page()  # a new tab: no sidebar scroll kept from the pages above
                for shot, name in SCREENSHOT_PAGES.items():
                    if screenshots and (html_root / name).is_file():
                        fresh.goto(origin + name, wait_until="networkidle")
                        fresh.screenshot(path=str(screenshots / f"{shot}-{width}.png"), full_page=True)
                context.close()
            browser.close()
    finally:
        server.shutdown()
    return findings


def missing_tools(chromium: Path) -> str | None:
    """Why the check cannot run here (no playwright, no browser), or None."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the Python package playwright is not installed (pip install -e '.[browser]')"
    if not chromium.is_file():
        return f"no Chromium at {chromium} (apt-get install chromium, or pass --chromium PATH)"
    return None


def parse_widths(text: str) -> list[int]:
    try:
        widths = [int(w) for w in text.split(",")]
    except ValueError:
        widths = []
    if not widths or min(widths) < 200:
        raise argparse.ArgumentTypeError(f"--widths {text!r}: comma-separated pixel widths of at least 200")
    return widths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--html", type=Path, default=ROOT / "book" / "_build" / "html", help="the built book")
    parser.add_argument("--screenshots", type=Path, help="folder for full-page screenshots")
    parser.add_argument("--widths", type=parse_widths, default=[1280, 400], help="window widths in px")
    parser.add_argument("--chromium", type=Path, default=Path("/usr/bin/chromium"), help="Chromium binary")
    args = parser.parse_args(argv)
    if not (args.html / "index.html").is_file():
        print(f"no built book at {args.html} (no index.html): run `jupyter-book build book` first",
              file=sys.stderr)
        return 2
    reason = missing_tools(args.chromium)
    if reason:
        print(f"SKIPPED: {reason}")
        return 0
    if args.screenshots:
        args.screenshots.mkdir(parents=True, exist_ok=True)
    pages = book_pages(args.html)
    findings = Findings(problems=broken_links(args.html, pages))
    browsed = browse(args.html, pages, args.widths, args.chromium, args.screenshots)
    findings.problems += browsed.problems
    for line in sorted(set(browsed.ignored)):
        print(f"ignored (third-party): {line}")
    widths = ", ".join(f"{w}px" for w in args.widths)
    if findings.problems:
        print(f"FAILED: {len(findings.problems)} problem(s) on {len(pages)} pages at {widths}:")
        for line in findings.problems:
            print(f"  {line}")
        return 1
    print(f"OK: {len(pages)} pages at {widths}: no broken link or image, no console error of the book, "
          f"no code line wider than its box")
    return 0


if __name__ == "__main__":
    sys.exit(main())
