"""Entry point for `python -m mnist_core`."""
import sys

from .cli import main
from .quiet import skip_final_collection

code = main()
skip_final_collection()
sys.exit(code)
