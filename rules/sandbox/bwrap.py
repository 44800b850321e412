"""Where the Pants sandbox appears inside a build root.

Pants runs each process in a fresh directory (/tmp/pants-sandbox-XXXX). rpm records expanded
build scripts, and compilers record paths, so a varying directory would leak into outputs. Inside
a root (scripts/enter_root.sh) the sandbox is bound at BUILD_DIR, the same on every run and
machine.
"""
from __future__ import annotations

BUILD_DIR = "/tmp/build"
