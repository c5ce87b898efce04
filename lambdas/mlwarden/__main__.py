import sys

from mlwarden.cli.main import main

sys.exit(main())
