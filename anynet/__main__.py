"""``python -m anynet``: the ``anynet`` command (see :mod:`anynet.cli`)."""

from anynet.cli import main

raise SystemExit(main())
