"""Entry point of build-support/build-lsp: run keel's BUILD-file language server on stdio.

A script rather than `python -m keel_lsp`: running a script puts its own directory first on
sys.path, so keel_lsp is found without PYTHONPATH (which the launcher tells Python to ignore).
"""
from keel_lsp.server import main

if __name__ == "__main__":
    main()
