"""Telegram through python-telegram-bot 22, used only as the transport.

``adapter`` turns an ``Update`` into an ``Incoming``, ``render`` turns our
``Message`` into Bot API calls, ``channel`` performs them and maps errors to
the delivery errors of ``bot.channels.base``, ``app`` wires the PTB
``Application`` to the engine, ``webhook`` serves updates on our aiohttp server,
``transport`` is PTB's HTTP client on aiohttp (``bot.redact`` keeps the token out of logs).
"""

import sys

# PTB imports ``cryptography`` when it is installed, for Telegram Passport, which this
# bot does not use; that costs every bot process 8.5 MB (issue 17). With the module
# marked missing while PTB loads, PTB takes Passport as unavailable, as it does without
# the package (``telegram._bot.CRYPTO_INSTALLED``); the mark is removed afterwards.
if "telegram" not in sys.modules and "cryptography" not in sys.modules:
    sys.modules["cryptography"] = None  # type: ignore[assignment]
    try:
        import telegram  # noqa: F401  (the package imports both modules that try it)
    finally:
        del sys.modules["cryptography"]
