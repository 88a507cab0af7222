"""`python -m atelierctl` is the same as the `atelier` command."""

import sys

from atelierctl.main import main

sys.exit(main())
