"""Write a copy of _config.yml whose pages load MathJax and the widget manager from CDNs.

Used by `BOOK_CDN=1 make book`. The default build serves the same pinned versions from the local
copies that .ci/fetch_js.sh fetches (offline; what CI tests). Only the three script URLs change:
the require.js config and the widget icon fonts still come from _widgets/, the book's slider
fix from .ci/site/.

    python .ci/cdn_config.py OUT.yml HTML_MANAGER REQUIREJS MATHJAX
"""
import sys
from pathlib import Path

import yaml

out, html_manager, requirejs, mathjax = sys.argv[1:5]
root = Path(__file__).resolve().parent.parent
config = yaml.safe_load((root / "_config.yml").read_text())
sphinx = config["sphinx"]
cdn = "https://cdn.jsdelivr.net/npm/"
sphinx["config"]["html_static_path"] = ["_widgets", ".ci/site"]
sphinx["config"]["mathjax_path"] = f"{cdn}mathjax@{mathjax}/es5/tex-chtml.js"
sphinx["config"]["nb_ipywidgets_js"] = {
    "book-widgets.js": {},
    f"{cdn}requirejs@{requirejs}/require.js": {},
    "require-config.js": {},
    f"{cdn}@jupyter-widgets/html-manager@{html_manager}/dist/embed-amd.js": {"data-jupyter-widgets-cdn": cdn},
}
# jupyter-book resolves local extension folders against the config file's own folder.
out_dir = Path(out).resolve().parent
sphinx["local_extensions"] = {
    name: Path(*[".."] * len(out_dir.relative_to(root).parts), path).as_posix() + "/"
    for name, path in sphinx.get("local_extensions", {}).items()
}
Path(out).write_text(yaml.safe_dump(config, sort_keys=False))
