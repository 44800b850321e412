"""bubblewrap around a command that runs on the host: today only the rpmbuild that makes virtual
packages (every package build runs inside a build root instead, see root.py).

Pants runs each process in a fresh directory (/tmp/pants-sandbox-XXXX). rpm records expanded
build scripts, and compilers record paths, so a varying directory would leak into outputs. Inside
bwrap the sandbox is bound at BUILD_DIR, the same on every run and machine (build roots use the
same path). The host filesystem is read-only, /tmp and /var/tmp are private, and only a loopback
network exists.
"""
from __future__ import annotations

BUILD_DIR = "/tmp/build"


def sandboxed_argv(bwrap: str, argv: tuple[str, ...]) -> tuple[str, ...]:
    """`argv` run by bwrap with the Pants sandbox ({chroot}) as the working directory BUILD_DIR."""
    return (
        bwrap,
        "--die-with-parent",
        "--ro-bind", "/", "/",
        "--dev", "/dev",
        "--proc", "/proc",
        "--tmpfs", "/tmp",
        "--tmpfs", "/var/tmp",
        "--bind", "{chroot}", BUILD_DIR,
        "--chdir", BUILD_DIR,
        "--unshare-net",
        "--unshare-ipc",
        "--unshare-uts",
        "--hostname", "keel",
        *argv,
    )
