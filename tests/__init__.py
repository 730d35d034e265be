"""chime-bot's tests. See tests/conftest.py for the shared fixtures.

The test processes write Python's bytecode caches (the gitignored __pycache__ folders) even where
PYTHONDONTWRITEBYTECODE is set. The suite starts some 170 Python processes (`chime-bot`
commands, the emulator) that import bot/ afresh: without caches each of them compiles what it
imports from source (about 0.2 s of CPU for `serve`), and every xdist worker rewrites and compiles
the test modules and hypothesis again (3 to 4 s each). Importing this package comes before any
conftest or test module, so the caches written here are the ones those processes then read.
"""

import sys

sys.dont_write_bytecode = False
