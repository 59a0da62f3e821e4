from haven_top.cli import main

raise SystemExit(main())
