from meshtui.cli.main import main

raise SystemExit(main())
