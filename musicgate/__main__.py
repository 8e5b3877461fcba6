import sys

from musicgate.cli import main

sys.exit(main())
