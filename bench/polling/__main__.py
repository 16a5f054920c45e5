"""``python -m bench.polling``: see the package's docstring."""

import sys

from bench.polling.run import main

sys.exit(main())
