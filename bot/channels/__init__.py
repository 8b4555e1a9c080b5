"""Messenger channels: the only code that imports a messenger library or speaks its JSON."""
