"""Entry point for `python -m mnist_core`."""
import sys

from mnist_core.cli import main
from mnist_core.quiet import skip_final_collection

code = main()
skip_final_collection()
sys.exit(code)
