"""Tests of tools/check_html.py on tiny HTML builds that hold one defect each."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

_SPEC = importlib.util.spec_from_file_location("check_html", Path(__file__).parents[1] / "check_html.py")
assert _SPEC is not None and _SPEC.loader is not None
check_html = importlib.util.module_from_spec(_SPEC)
sys.modules["check_html"] = check_html  # dataclasses look their module up there
_SPEC.loader.exec_module(check_html)

INDEX = """<!DOCTYPE html>
<html><head><title>t</title><link rel="stylesheet" href="_static/site.css">
<script>if (a >>> 0) {}</script></head>
<body>
<nav><a href="tutorial.html">Tutorial</a> <a href="formats/nifti.html#files">NIfTI files</a></nav>
<div class="toctree-wrapper compound"><ul>
<li><a class="reference internal" href="tutorial.html">Tutorial</a></li>
<li><a class="reference internal" href="formats/nifti.html">NIfTI</a></li>
</ul></div>
<p>The prompt is written <code>&gt;&gt;&gt;</code>; external links are not followed:
<a href="https://numpy.org/doc/">NumPy</a> <a href="mailto:a@b.c">mail</a></p>
<img src="_images/head.png" alt="a head"><img src="data:image/png;base64,AAAA" alt="inline">
</body></html>
"""

TUTORIAL = """<html><body>
<h1 id="tutorial">Tutorial</h1>
<div class="highlight-pycon"><pre><span class="gp">&gt;&gt;&gt; </span>1 + 1
2
<span class="gp">&gt;&gt;&gt; </span>print("a")
a
</pre></div>
<blockquote><div><p>A quotation is fine.</p></div></blockquote>
<a href="#tutorial">top</a> <a href="./index.html">home</a> <a href="formats/">formats</a>
</body></html>
"""

NIFTI = """<html><body><section id="files"><h1>NIfTI</h1>
<a href="../tutorial.html#tutorial">back</a> <a href="../_sources/formats/nifti.md.txt">source</a>
<img src="../_images/head.png"></section></body></html>
"""


def write(root: Path, files: dict[str, str | bytes]) -> Path:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    return root


@pytest.fixture
def build(tmp_path: Path) -> Path:
    """A clean build: every check passes on it."""
    return write(
        tmp_path / "html",
        {
            "index.html": INDEX,
            "tutorial.html": TUTORIAL,
            "formats/nifti.html": NIFTI,
            "formats/index.html": "<html><body>formats</body></html>",
            "_static/site.css": "body {}",
            "_images/head.png": b"\x89PNG\r\n\x1a\n",
            "_sources/tutorial.md.txt": "# Tutorial\n\n```pycon\n>>> 1 + 1\n2\n>>> print('a')\na\n\n```\n",
            "_sources/formats/nifti.md.txt": "# NIfTI\n",
        },
    )


def test_clean_build_passes(build: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert check_html.check(build) == []
    assert check_html.main([str(build)]) == 0
    assert "4 pages" in capsys.readouterr().out


def test_prompts_read_as_block_quotes(build: Path) -> None:
    # What MyST makes of a bare `>>> print("a")` line: three nested block quotes.
    quoted = "<blockquote><div><blockquote><div><blockquote><div><p>print(“a”)\na</p></div></blockquote>"
    (build / "tutorial.html").write_text(TUTORIAL.replace("<pre>", quoted + "</div></blockquote></div><pre>"))
    (build / "_sources/tutorial.md.txt").write_text("# Tutorial\n\n>>> print('a')\na\n\n>>> 1 + 1\n>>> 2 + 2\n")
    problems = check_html.check(build)
    assert problems == [
        "tutorial.html:3: text in block quotes 3 deep (a `>>>` example read as quotes?): print(“a”) a",
        "tutorial.html: 3 `>>>` lines in the source, 2 in code blocks of the page",
    ]


def test_prompt_outside_code(build: Path) -> None:
    (build / "formats/nifti.html").write_text(NIFTI.replace("<h1>", "<p>&gt;&gt;&gt; import mvl</p><h1>"))
    assert check_html.check(build) == ["formats/nifti.html:1: `>>>` outside a code block: >>> import mvl"]


def test_broken_link_anchor_and_image(build: Path) -> None:
    page = TUTORIAL.replace(
        "</body>",
        '<a href="cli.html">cli</a> <a href="formats/nifti.html#no-such-part">x</a> <a href="#nowhere">y</a>'
        '\n<img src="_images/missing.png"> <a href="../outside.html">z</a></body>',
    )
    (build / "tutorial.html").write_text(page)
    assert check_html.check(build) == [
        "tutorial.html:10: broken link: cli.html",
        "tutorial.html:10: broken anchor: formats/nifti.html#no-such-part (no id 'no-such-part' in formats/nifti.html)",
        "tutorial.html:10: broken anchor: #nowhere (no id 'nowhere' in tutorial.html)",
        "tutorial.html:11: broken image: _images/missing.png",
        "tutorial.html:11: broken link: ../outside.html",
    ]


def test_toctree_page_missing(build: Path) -> None:
    (build / "formats/nifti.html").unlink()
    problems = check_html.check(build)
    assert "index.html:8: toctree page missing from the build: formats/nifti.html" in problems
    assert "index.html:5: broken link: formats/nifti.html#files" in problems


def test_source_page_not_built_or_not_in_toctree(build: Path, tmp_path: Path) -> None:
    sources = write(
        tmp_path / "docs",
        {
            "index.md": "",
            "tutorial.md": "",
            "formats/nifti.md": "",
            "formats/index.md": "",
            "formats/mgh.md": "",
            "README.md": "",
            "_build/html/x.md": "",
        },
    )
    assert check_html.check(build, sources) == [
        "formats/index.html: built, but no toctree from index.html reaches it",
        f"formats/mgh.html: page of the source ({sources / 'formats/mgh'}.*) missing from the build",
    ]


def test_page_without_link_to_the_api(build: Path) -> None:
    # The page itself needs no link to itself; index.html and nifti.html link to the tutorial.
    assert check_html.check(build, everywhere=["tutorial.html"]) == ["formats/index.html: no link to tutorial.html"]
    assert check_html.check(build, everywhere=["formats/nifti.html"]) == [
        "formats/index.html: no link to formats/nifti.html",
        "tutorial.html: no link to formats/nifti.html",
    ]


def test_main_prints_problems_and_fails(build: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (build / "_images/head.png").unlink()
    assert check_html.main([str(build)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out == [
        "formats/nifti.html:3: broken image: ../_images/head.png",
        "index.html:12: broken image: _images/head.png",
        "check_html: 2 problem(s) in 4 pages of " + str(build),
    ]


def test_not_a_build(tmp_path: Path) -> None:
    assert check_html.check(tmp_path) == [f"{tmp_path}: no index.html (is this an HTML build?)"]


def test_real_build_of_a_bare_prompt(tmp_path: Path) -> None:
    # The same Markdown rendered by Sphinx and MyST with our theme: the bare example is
    # caught, the fenced one is not.
    build_main = pytest.importorskip("sphinx.cmd.build").build_main
    pytest.importorskip("myst_parser")
    pytest.importorskip("furo")
    example = ">>> import math\n>>> math.floor(2.5)\n2\n"
    sources = write(
        tmp_path / "docs",
        {
            "conf.py": 'extensions = ["myst_parser", "sphinx_copybutton"]\nhtml_theme = "furo"\n',
            "index.md": "# Index\n\n```{toctree}\nbare\nfenced\n```\n",
            "bare.md": f"# Bare\n\nText.\n\n{example}\nMore text.\n",
            "fenced.md": f"# Fenced\n\n```pycon\n{example}\n```\n",
        },
    )
    html = tmp_path / "html"
    assert build_main(["-q", "-b", "html", str(sources), str(html)]) == 0
    problems = check_html.check(html, sources)
    assert [problem.split(":")[0] for problem in problems] == ["bare.html", "bare.html"]
    assert "block quotes 3 deep" in problems[0] and "import math math.floor(2.5) 2" in problems[0]
    assert problems[1] == "bare.html: 2 `>>>` lines in the source, 0 in code blocks of the page"
