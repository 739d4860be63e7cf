from tui_proxy.cli import main

raise SystemExit(main())
