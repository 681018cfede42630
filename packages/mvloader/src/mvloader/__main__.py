"""``python -m mvloader`` runs the ``mvl`` command."""

import sys

from .cli import main

sys.exit(main())
