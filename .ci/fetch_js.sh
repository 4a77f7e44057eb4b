#!/usr/bin/env bash
# Fetch the JavaScript the static book needs from the npm registry into git-ignored folders, so
# that `make book` builds a site that works offline (no CDN):
#   _widgets/  require.js and the jupyter-widgets HTML manager (sliders without a kernel), with
#              the manager's icon fonts and a require.js config telling it where they are
#   _mathjax/mathjax/  MathJax 3: the tex-chtml bundle, its fonts, and the TeX extensions it
#              autoloads (\boldsymbol, \cancel, ...). The menu's optional accessibility tools
#              (a11y/, sre/, ~4 MB) are left out.
# _config.yml lists both folders in html_static_path; Sphinx copies their contents to _static/.
# Versions are pinned: the widget manager to what myst-nb references, MathJax to the last 3.x.
# `BOOK_CDN=1 make book` links the same versions on a CDN instead (.ci/cdn_config.py).
set -euo pipefail
cd "$(dirname "$0")/.."
# The Makefile passes its pinned versions; these defaults are the same.
HTML_MANAGER=${HTML_MANAGER:-1.0.6}
REQUIREJS=${REQUIREJS:-2.3.7}
MATHJAX=${MATHJAX:-3.2.2}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "@jupyter-widgets/html-manager@$HTML_MANAGER" "requirejs@$REQUIREJS" \
    "mathjax@$MATHJAX" >/dev/null)
unpack() { rm -rf "$tmp/package" && tar -xzf "$tmp/$1" -C "$tmp"; }

rm -rf _widgets && mkdir -p _widgets
unpack "jupyter-widgets-html-manager-$HTML_MANAGER.tgz"
cp "$tmp/package/dist/embed-amd.js" _widgets/embed-amd.js
# The bundled modules load their icon fonts (Font Awesome, e.g. for a Button's icon) from the
# folder of their require.js module id (@jupyter-widgets/controls -> @jupyter-widgets/,
# .../html-manager/dist/libembed-amd -> .../html-manager/dist/), by default relative to the page
# (book/@jupyter-widgets/...), where nothing is. Ship the fonts under _static/ in both folders and
# map the module prefix there before embed-amd.js runs (woff2 only: every current browser reads it).
for dir in _widgets/jupyter-widgets _widgets/jupyter-widgets/html-manager/dist; do
  mkdir -p "$dir" && cp "$tmp"/package/dist/*.woff2 "$dir"/
done
# The manager also typesets HTML widgets with the MathJax 2 call MathJax.Hub.Queue, which throws
# under the book's MathJax 3; translate it.
cat > _widgets/require-config.js <<'JS'
// Written by .ci/fetch_js.sh. Sphinx puts the path from the page to the site root in <html data-content_root>.
requirejs.config({
  paths: {"@jupyter-widgets": (document.documentElement.dataset.content_root || "") + "_static/jupyter-widgets"}
});
// Runs before the widget manager's own listener; deferred scripts such as MathJax have run by now.
document.addEventListener("DOMContentLoaded", function () {
  var mj = window.MathJax;
  if (mj && mj.version && !mj.Hub) {
    mj.Hub = {Queue: function (job) {
      var element = job && job[2];
      if (element && mj.typesetPromise) {
        mj.startup.promise.then(function () { return mj.typesetPromise([element]); });
      }
    }};
  }
});
JS
unpack "requirejs-$REQUIREJS.tgz"
cp "$tmp/package/require.js" _widgets/require.js

rm -rf _mathjax && mkdir -p _mathjax/mathjax/output/chtml/fonts _mathjax/mathjax/input/tex
unpack "mathjax-$MATHJAX.tgz"
es5="$tmp/package/es5"
cp "$es5/tex-chtml.js" _mathjax/mathjax/
cp -r "$es5/output/chtml/fonts/woff-v2" _mathjax/mathjax/output/chtml/fonts/
cp -r "$es5/input/tex/extensions" _mathjax/mathjax/input/tex/
cp "$tmp/package/LICENSE" _mathjax/mathjax/LICENSE

echo "fetched: $(cd _widgets && ls -d *.js | tr '\n' ' ')| mathjax $MATHJAX ($(du -sh _mathjax | cut -f1))"
