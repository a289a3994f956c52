"""`python -m argus_commands`: the `argus` command under a chosen interpreter (tests, `argus run`)."""

from argus_commands.main import main

raise SystemExit(main())
