"""The `argus` command: one entry point above every component, and the commands that belong to none."""
