"""Telegram through python-telegram-bot 22, used only as the transport.

``adapter`` turns an ``Update`` into an ``Incoming``, ``render`` turns our
``Message`` into Bot API calls, ``channel`` performs them and maps errors to
the delivery errors of ``bot.channels.base``, ``app`` wires the PTB
``Application`` to the engine, ``webhook`` serves updates on our aiohttp server,
``transport`` is PTB's HTTP client on aiohttp (``bot.redact`` keeps the token out of logs).
"""
