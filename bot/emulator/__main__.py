from bot.offline.emulator.__main__ import main

raise SystemExit(main())
