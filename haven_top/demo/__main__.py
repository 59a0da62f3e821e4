"""Run the demo Haven service: `python -m haven_top.demo --help`."""

from haven_top.demo.server import main

raise SystemExit(main())
