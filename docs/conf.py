"""Sphinx configuration of the mvl documentation (MyST + numpydoc + intersphinx)."""

from __future__ import annotations

import zlib
from pathlib import Path

from docutils import nodes

import mvl.coords

project = "mvloader"
author = "the mvloader developers"
copyright = "2026, the mvloader developers"
version = release = mvl.coords.__version__

extensions = [
    "myst_parser",
    "numpydoc",
    "sphinx.ext.autodoc",
    "sphinx.ext.intersphinx",
    "sphinx.ext.mathjax",
    "sphinx_copybutton",
]
source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
exclude_patterns = ["_build", "inventories", "README.md"]
myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3

# Furo: the whole table of contents (guide, formats, API reference) in the sidebar of every
# page, and a content column wide enough for our examples (mvl.css widens it further).
html_theme = "furo"
html_title = f"mvloader {release}"
html_static_path = ["_static"]
html_css_files = ["mvl.css"]
html_theme_options = {"navigation_with_keys": True}

# The copy button copies the code of an example without its `>>> `/`... ` prompts and
# without the printed output, so that the copy runs as it is pasted.
copybutton_prompt_text = r">>> |\.\.\. "
copybutton_prompt_is_regexp = True
copybutton_only_copy_prompt_lines = True
copybutton_remove_prompts = True

autodoc_member_order = "bysource"
autodoc_typehints = "none"  # numpydoc writes the types from the docstrings
numpydoc_show_class_members = False
numpydoc_xref_param_type = True
numpydoc_xref_aliases = {
    "ndarray": "numpy.ndarray",
    "array_like": "numpy.typing.ArrayLike",
    "Volume": "mvl.coords.Volume",
    "PathLike": "os.PathLike",
}
numpydoc_xref_ignore = {"of", "or", "optional", "default", "shape", "N", "float64", "int64", "int16", "sequence"}

# The build machine has no web access: intersphinx reads inventories compiled here from
# the short text lists in docs/inventories/, which link to the real online pages.
_HERE = Path(__file__).parent
_COMPILED = _HERE / "_build" / "inventories"


def _compile_inventory(name: str, project_name: str) -> str:
    # Each line: name, domain:role, uri, and optionally a display name.
    lines = [
        line.split(maxsplit=3)
        for line in (_HERE / "inventories" / f"{name}.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    body = "".join(
        f"{fields[0]} {fields[1]} 1 {fields[2]} {fields[3] if len(fields) > 3 else '-'}\n" for fields in lines
    )
    header = f"# Sphinx inventory version 2\n# Project: {project_name}\n# Version: \n"
    header += "# The remainder of this file is compressed using zlib.\n"
    _COMPILED.mkdir(parents=True, exist_ok=True)
    target = _COMPILED / f"{name}.inv"
    target.write_bytes(header.encode() + zlib.compress(body.encode(), 9))
    return str(target)


# Pictures of the tutorial, drawn from the example data at every build (not committed).
_PREVIEWS = {
    "tutorial-ct-ras.png": ("examples/data/phantom-ct", "RAS", {"series_uid": "1.2.826.0.1.3680043.10.1234.2"}),
    "tutorial-ct-lps.png": ("examples/data/phantom-ct", "LPS", {"series_uid": "1.2.826.0.1.3680043.10.1234.2"}),
    "tutorial-t1-ras.png": ("examples/data/phantom-t1.nii.gz", "RAS", {}),
}


def _draw_previews(app: object) -> None:
    import mvloader
    from mvloader.preview import render_preview

    target = _HERE / "_generated"
    target.mkdir(exist_ok=True)
    for name, (source, system, options) in _PREVIEWS.items():
        volume = mvloader.load(_HERE.parent / source, system=system, **options)
        render_preview(volume, target / name, title=f"{source} in {system}")


def _trim_code_blocks(app: object, doctree: nodes.document) -> None:
    # A doctest in Markdown ends with an empty line before the closing fence (else the fence
    # would be expected output); the reader should not see that line.
    for block in doctree.findall(nodes.literal_block):
        text = block.astext()
        if block.rawsource == text and text != text.rstrip():  # not a parsed literal: plain text
            block.rawsource = text.rstrip()  # Sphinx highlights a block whose rawsource is its text
            block.replace(block[0], nodes.Text(block.rawsource))


def setup(app: object) -> None:
    app.connect("builder-inited", _draw_previews)  # type: ignore[attr-defined]
    app.connect("doctree-read", _trim_code_blocks)  # type: ignore[attr-defined]


intersphinx_mapping = {
    "python": ("https://docs.python.org/3", _compile_inventory("python", "Python")),
    "numpy": ("https://numpy.org/doc/stable", _compile_inventory("numpy", "NumPy")),
}
