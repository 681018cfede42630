"""Render pages of the built documentation with headless Chromium, as a reader sees them.

Usage: python tools/screenshots.py BUILD_DIR OUT_DIR [--chromium PATH]

Writes one PNG per page below (the index, the tutorial, a format page, the CLI page) into
OUT_DIR (see PAGES), and the tutorial once more as on a tablet. The copy buttons, which a
reader sees when the pointer is over a code block, are shown on every block. Then checks
what the copy button of each code block of the tutorial and the DICOM page copies: the
code without `>>> `/`... ` prompts and without the output.
Prints what it wrote and found; exit status 1 if Chromium failed or a copy held a prompt.
"""

from __future__ import annotations

import argparse
import html
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

# (file name of the PNG, page, window width and height): each page from its top, as a
# reader opens it; 1440 pixels is a laptop (Furo shows the sidebar, the page and its
# contents side by side), 800 a tablet (the sidebar behind a menu button).
PAGES = [
    ("index.png", "index.html", 1440, 1100),
    ("tutorial.png", "tutorial.html", 1440, 1800),
    ("formats-nifti.png", "formats/nifti.html", 1440, 1800),
    ("cli.png", "cli.html", 1440, 1100),
    ("tutorial-narrow.png", "tutorial.html", 800, 1200),
]
# Pages whose copy buttons are checked: pycon blocks (prompts marked by the highlighter)
# and python blocks with prompts (only the prompt pattern finds them).
COPY_PAGES = ["tutorial.html", "formats/dicom.html"]
# Chromium as root in a container, without a screen, a GPU or a network to call home to.
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--hide-scrollbars",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--force-device-scale-factor=1",
    # Lets the page's scripts (the copy buttons, the theme) run before the picture is taken.
    "--virtual-time-budget=5000",
]
SHOW_BUTTONS = "<style>.copybtn { opacity: 1 !important; }</style>"
# After load, click every copy button and keep what it would put on the clipboard (the copy
# goes through document.execCommand("copy") on a selected text area), in an element of the page.
COPY_PROBE = """<script>
window.addEventListener("load", () => setTimeout(() => {
  const copied = [];
  document.execCommand = () => {
    const area = document.activeElement;
    copied.push(area && area.value !== undefined ? area.value : String(window.getSelection()));
    return true;
  };
  document.querySelectorAll("button.copybtn").forEach((button) => button.click());
  const out = document.createElement("pre");
  out.id = "mvl-copied";
  out.textContent = JSON.stringify(copied);
  document.body.appendChild(out);
}, 500));
</script>"""
PROMPT_LINE = re.compile(r"^(>>>|\.\.\.)( |$)", re.MULTILINE)


def _variant(page: Path, suffix: str, head: str = "", body: str = "") -> Path:
    """A copy of `page` beside it (so its relative links work) with extra markup."""
    text = page.read_text(encoding="utf-8")
    text = text.replace("</head>", head + "</head>", 1).replace("</body>", body + "</body>", 1)
    copy = page.with_name(f"{page.stem}.{suffix}.html")
    copy.write_text(text, encoding="utf-8")
    return copy


def _chromium(chromium: str, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [chromium, *FLAGS, f"--user-data-dir={profile}", *args]
    return subprocess.run(command, capture_output=True, text=True, check=False)


def shoot(chromium: str, build: Path, out: Path) -> list[str]:
    problems = []
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="mvl-chromium-") as profile:
        for name, page, width, height in PAGES:
            source = build / page
            if not source.is_file():
                problems.append(f"{page}: not in the build")
                continue
            copy = _variant(source, "screenshot", head=SHOW_BUTTONS)
            url = copy.resolve().as_uri()
            target = out / name
            target.unlink(missing_ok=True)
            size = f"--window-size={width},{height}"
            result = _chromium(chromium, Path(profile), size, f"--screenshot={target}", url)
            copy.unlink()
            if not target.is_file():
                error = result.stderr[-500:]
                problems.append(f"{page}: chromium wrote no screenshot (exit {result.returncode}): {error}")
            else:
                print(f"{target}: {page}, {width}x{height}")
        for page in COPY_PAGES:
            problems += check_copies(chromium, build, Path(profile), page)
    return problems


def check_copies(chromium: str, build: Path, profile: Path, page: str) -> list[str]:
    """What the copy buttons of `page` copy: no prompt, no output, something for every block."""
    copy = _variant(build / page, "copycheck", body=COPY_PROBE)
    result = _chromium(chromium, profile, "--dump-dom", copy.resolve().as_uri())
    copy.unlink()
    found = re.search(r'<pre id="mvl-copied">(.*?)</pre>', result.stdout, re.DOTALL)
    if found is None:
        return [f"{page}: no copy-button results in the page (exit {result.returncode}): {result.stderr[-500:]}"]
    copied: list[str] = json.loads(html.unescape(found.group(1)))
    problems = [
        f"{page}: the copy button of code block {number} copies a prompt: {text!r}"
        for number, text in enumerate(copied, 1)
        if PROMPT_LINE.search(text)
    ]
    print(f"{page}: {len(copied)} copy buttons, none copies a prompt; the first two copy:")
    for text in copied[:2]:
        print("    | " + "\n    | ".join(text.splitlines()))
    if not copied:
        problems.append(f"{page}: no copy buttons")
    return problems


def find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if path := shutil.which(name):
            return path
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("build", type=Path, help="the HTML build folder")
    parser.add_argument("out", type=Path, help="where the PNGs go")
    parser.add_argument("--chromium", help="the Chromium executable (default: chromium on PATH)")
    args = parser.parse_args(argv)
    chromium = args.chromium or find_chromium()
    if chromium is None:
        print("no chromium found: install Debian's chromium package (apt-get install chromium)")
        return 1
    problems = shoot(chromium, args.build, args.out)
    for problem in problems:
        print(problem)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
