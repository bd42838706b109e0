#!/usr/bin/env python3
"""Write deploy/k8s/graphs-configmap.yaml from graphs/*.toml (run from anywhere)."""
import glob
import os

root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
out = [
    "# The mapping graphs, mounted at /etc/planmap/graphs; the watcher reloads them when",
    "# this ConfigMap changes (no restart). Generated from graphs/*.toml by",
    "# deploy/k8s/render-graphs-configmap.py; a test checks it matches them.",
    "apiVersion: v1", "kind: ConfigMap", "metadata:", "  name: planmap-graphs", "  namespace: planmap",
    "  labels:", "    app.kubernetes.io/name: planmap", "data:",
]
for f in sorted(glob.glob(os.path.join(root, "graphs", "*.toml"))):
    out.append(f"  {os.path.basename(f)}: |")
    for line in open(f).read().splitlines():
        out.append(("    " + line) if line else "")
with open(os.path.join(root, "deploy", "k8s", "graphs-configmap.yaml"), "w") as fh:
    fh.write("\n".join(out) + "\n")
