#!/usr/bin/env bash
# Fetch the JavaScript that static widget pages need (require.js and the jupyter-widgets HTML
# manager) from the npm registry into the git-ignored _widgets/, so the book builds and works
# offline. Versions pinned to what jupyter-book 1 / myst-nb reference.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p _widgets
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent @jupyter-widgets/html-manager@1.0.6 requirejs@2.3.7 >/dev/null)
tar -xzf "$tmp"/jupyter-widgets-html-manager-1.0.6.tgz -C "$tmp"
cp "$tmp"/package/dist/embed-amd.js _widgets/embed-amd.js
rm -rf "$tmp"/package
tar -xzf "$tmp"/requirejs-2.3.7.tgz -C "$tmp"
cp "$tmp"/package/require.js _widgets/require.js
echo "fetched: $(ls _widgets)"
