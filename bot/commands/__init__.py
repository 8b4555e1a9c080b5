"""Sub-commands of ``antt``: one module each, with ``register(subparsers)``."""
