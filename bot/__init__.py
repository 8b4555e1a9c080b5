"""ANTT Bot: entry points and wiring (CLI, config, bootstrap, web server, channels)."""
