import sys

from ding.entry.cli import main

sys.exit(main())
