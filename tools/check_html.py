"""Check the built HTML of the documentation: what a reader sees, not the Markdown source.

Usage: python tools/check_html.py BUILD_DIR [--sources DOCS_DIR] [--linked-from-every-page PAGE ...]

Reads every page under BUILD_DIR (the output of `sphinx-build -b html`) and fails when

- a `>>>` prompt shows outside a code block (<pre> or <code>), or a block of text sits in
  block quotes nested three deep: MyST reads a bare `>>>` line as three `>` quote markers,
  so the prompt disappears and the example becomes a quoted paragraph;
- a page shows fewer `>>>` prompts inside code blocks than its source (`_sources/`) has
  prompt lines: an example that did not become a code block;
- an internal link (`href` to a page, a file or an `#anchor` of the build) or an image
  (`src`) points at nothing;
- a page named by a toctree is missing from the build, or (with --sources) a page of the
  source folder was not built or is not reachable through the toctrees from `index.html`;
- (with --linked-from-every-page) a page has no link to PAGE, e.g. the API reference.

Links with a scheme (`https:`, `mailto:`, ...) are not followed: the build machine has no
web access. Prints one line per problem and a summary; exit status 1 if any was found.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlsplit

PROMPT = ">>>"
# Block quotes this deep hold a bare `>>>` line that Markdown took for quote markers.
QUOTE_DEPTH = 3
# Elements whose text is code: a prompt there is what we want.
CODE_TAGS = {"pre", "code", "kbd", "samp", "tt"}
# Elements whose text a reader never sees as page content.
HIDDEN_TAGS = {"script", "style", "template", "head", "title", "textarea"}
VOID_TAGS = {
    "area",
    "base",
    "br",
    "col",
    "embed",
    "hr",
    "img",
    "input",
    "link",
    "meta",
    "param",
    "source",
    "track",
    "wbr",
}
# Source folders and files that are not pages of the site.
SKIPPED_SOURCES = {"_build", "_generated", "_static", "_templates", "inventories"}
SKIPPED_FILES = {"README.md"}


@dataclass
class Page:
    """What one HTML page holds, as far as the checks need it."""

    path: PurePosixPath  # relative to the build folder, e.g. formats/nifti.html
    ids: set[str] = field(default_factory=set)
    links: list[tuple[str, str, int]] = field(default_factory=list)  # (tag, url, line)
    toctree_links: list[tuple[str, int]] = field(default_factory=list)
    stray_prompts: list[tuple[int, str]] = field(default_factory=list)
    deep_quotes: list[tuple[int, str]] = field(default_factory=list)
    code_prompts: int = 0


class _PageParser(HTMLParser):
    """Collects ids, links, images, toctree entries and prompts outside code from one page."""

    def __init__(self, page: Page) -> None:
        super().__init__(convert_charrefs=True)
        self.page = page
        self.stack: list[tuple[str, bool]] = []  # (tag, opens a toctree-wrapper)
        self.code = 0
        self.hidden = 0
        self.quotes = 0
        self.toctree = 0
        self.quote_text: list[str] | None = None
        self.quote_line = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        line = self.getpos()[0]
        if values.get("id"):
            self.page.ids.add(values["id"])
        if tag == "a" and values.get("name"):
            self.page.ids.add(values["name"])
        for name in ("href", "src"):
            if name in values and tag in {"a", "img", "link", "script", "source", "iframe"}:
                self.page.links.append((tag, values[name], line))
                if tag == "a" and self.toctree and name == "href":
                    self.page.toctree_links.append((values[name], line))
        if tag in VOID_TAGS:
            return
        wrapper = tag == "div" and "toctree-wrapper" in values.get("class", "").split()
        self.stack.append((tag, wrapper))
        self._enter(tag, wrapper, +1)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in VOID_TAGS:
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID_TAGS or not any(open_tag == tag for open_tag, _ in self.stack):
            return  # a stray end tag: ignore it, as browsers do
        while self.stack:
            open_tag, wrapper = self.stack.pop()
            self._enter(open_tag, wrapper, -1)
            if open_tag == tag:
                break

    def _enter(self, tag: str, wrapper: bool, step: int) -> None:
        if tag in CODE_TAGS:
            self.code += step
        if tag in HIDDEN_TAGS:
            self.hidden += step
        if wrapper:
            self.toctree += step
        if tag == "blockquote":
            self.quotes += step
            if step > 0 and self.quotes == QUOTE_DEPTH and self.quote_text is None:
                self.quote_text, self.quote_line = [], self.getpos()[0]
            if step < 0 and self.quotes < QUOTE_DEPTH and self.quote_text is not None:
                text = " ".join(" ".join(self.quote_text).split())
                if text:
                    self.page.deep_quotes.append((self.quote_line, text))
                self.quote_text = None

    def handle_data(self, data: str) -> None:
        if self.hidden:
            return
        if self.code:
            self.page.code_prompts += sum(line.lstrip().startswith(PROMPT) for line in data.splitlines())
            return
        if self.quote_text is not None:
            self.quote_text.append(data)
        if PROMPT in data:
            line = self.getpos()[0]
            for text in data.splitlines():
                if PROMPT in text:
                    self.page.stray_prompts.append((line, text.strip()))


def read_page(build: Path, path: Path) -> Page:
    page = Page(PurePosixPath(path.relative_to(build).as_posix()))
    parser = _PageParser(page)
    parser.feed(path.read_text(encoding="utf-8", errors="replace"))
    parser.close()
    return page


def _short(text: str, width: int = 90) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


def _target(page: Page, url: str) -> tuple[PurePosixPath, str] | None:
    """The file (relative to the build) and anchor an internal URL names; None if external."""
    parts = urlsplit(url)
    if parts.scheme or parts.netloc or url.startswith("//"):
        return None
    path = unquote(parts.path)
    if not path:
        return page.path, unquote(parts.fragment)
    if path.startswith("/"):
        return PurePosixPath(path.lstrip("/")), unquote(parts.fragment)
    joined: list[str] = []
    for part in (page.path.parent / path).parts:
        if part == "..":
            if joined:
                joined.pop()
            else:
                joined.append(part)  # leaves the build: cannot exist
        elif part != ".":
            joined.append(part)
    return PurePosixPath(*joined) if joined else PurePosixPath("."), unquote(parts.fragment)


def _resolve(build: Path, target: PurePosixPath) -> PurePosixPath | None:
    """The file a target names in the build (a folder means its index.html), or None."""
    if ".." in target.parts:
        return None
    candidate = build / target
    if candidate.is_dir():
        target, candidate = target / "index.html", candidate / "index.html"
    return target if candidate.is_file() else None


def _source_prompts(build: Path, page: Page) -> int | None:
    """Lines starting with `>>>` in the page's copied source, None when there is none."""
    stem = page.path.with_suffix("")
    for suffix in (".md.txt", ".rst.txt", ".txt"):
        source = build / "_sources" / f"{stem}{suffix}"
        if source.is_file():
            text = source.read_text(encoding="utf-8", errors="replace")
            return sum(line.lstrip().startswith(PROMPT) for line in text.splitlines())
    return None


def _source_pages(sources: Path) -> Iterator[PurePosixPath]:
    for path in sorted(sources.rglob("*")):
        relative = path.relative_to(sources)
        if path.suffix not in {".md", ".rst"} or not path.is_file():
            continue
        if relative.as_posix() in SKIPPED_FILES or any(part in SKIPPED_SOURCES for part in relative.parts):
            continue
        yield PurePosixPath(relative.with_suffix(".html").as_posix())


def check(build: Path, sources: Path | None = None, everywhere: Sequence[str] = ()) -> list[str]:
    """Every problem found in the HTML build at `build`, one message each.

    `sources` is the documentation's source folder, whose pages must all be built and in a
    toctree; `everywhere` names pages (relative to `build`) that every page must link to.
    """
    if not (build / "index.html").is_file():
        return [f"{build}: no index.html (is this an HTML build?)"]
    pages = {page.path: page for page in (read_page(build, path) for path in sorted(build.rglob("*.html")))}
    problems: list[str] = []
    for page in pages.values():
        for line, text in page.stray_prompts:
            problems.append(f"{page.path}:{line}: `>>>` outside a code block: {_short(text)}")
        for line, text in page.deep_quotes:
            problems.append(
                f"{page.path}:{line}: text in block quotes {QUOTE_DEPTH} deep "
                f"(a `>>>` example read as quotes?): {_short(text)}"
            )
        expected = _source_prompts(build, page)
        if expected is not None and page.code_prompts < expected:
            problems.append(
                f"{page.path}: {expected} `>>>` lines in the source, {page.code_prompts} in code blocks of the page"
            )
        toctree = {url for url, _ in page.toctree_links}
        for tag, url, line in page.links:
            target = _target(page, url)
            if target is None:
                continue
            path, anchor = target
            found = _resolve(build, path)
            if found is None:
                kind = "toctree page missing from the build" if url in toctree else f"broken {_kind(tag)}"
                problems.append(f"{page.path}:{line}: {kind}: {url}")
            elif anchor and found in pages and anchor not in pages[found].ids:
                problems.append(f"{page.path}:{line}: broken anchor: {url} (no id {anchor!r} in {found})")
    if sources is not None:
        problems += _unreachable(build, pages, sources)
    for required in map(PurePosixPath, everywhere):
        for page in pages.values():
            linked = {_resolve(build, target[0]) for _, url, _ in page.links if (target := _target(page, url))}
            if required not in linked and page.path != required:
                problems.append(f"{page.path}: no link to {required}")
    return problems


def _kind(tag: str) -> str:
    return {"a": "link", "img": "image", "source": "image"}.get(tag, f"<{tag}> resource")


def _unreachable(build: Path, pages: dict[PurePosixPath, Page], sources: Path) -> list[str]:
    """Source pages that were not built, or that no toctree path from index.html reaches."""
    reached: set[PurePosixPath] = set()
    todo = [PurePosixPath("index.html")]
    while todo:
        current = todo.pop()
        if current in reached or current not in pages:
            continue
        reached.add(current)
        for url, _ in pages[current].toctree_links:
            target = _target(pages[current], url)
            if target is not None:
                found = _resolve(build, target[0])
                if found is not None:
                    todo.append(found)
    problems = []
    for expected in _source_pages(sources):
        source = sources / expected.with_suffix("")
        if expected not in pages:
            problems.append(f"{expected}: page of the source ({source}.*) missing from the build")
        elif expected not in reached:
            problems.append(f"{expected}: built, but no toctree from index.html reaches it")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("build", type=Path, help="the HTML build folder (sphinx-build -b html OUT)")
    parser.add_argument("--sources", type=Path, help="the source folder: each of its pages must be built")
    parser.add_argument(
        "--linked-from-every-page",
        action="append",
        default=[],
        metavar="PAGE",
        help="a page (relative to the build, e.g. api/coords.html) that every page must link to",
    )
    args = parser.parse_args(argv)
    problems = check(args.build, args.sources, args.linked_from_every_page)
    for problem in problems:
        print(problem)
    count = len(list(args.build.rglob("*.html")))
    if problems:
        print(f"check_html: {len(problems)} problem(s) in {count} pages of {args.build}")
        return 1
    print(f"check_html: {count} pages of {args.build} ok (prompts in code blocks, links, images, toctree)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
