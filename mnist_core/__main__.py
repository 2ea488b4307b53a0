"""Entry point for `python -m mnist_core`."""
import sys

from .cli import main

sys.exit(main())
