"""`python -m devstack ...`: see `devstack.cli`."""

from devstack.cli import main

raise SystemExit(main())
