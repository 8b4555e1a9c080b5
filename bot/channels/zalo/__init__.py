"""Zalo through the Zalo Bot Platform HTTP API (shaped like Telegram's, no buttons).

``client`` makes the calls, ``adapter`` turns an update into an ``Incoming``,
``render`` turns our ``Message`` into plain texts with numbered choices,
``channel`` sends them and maps errors, ``service`` polls or serves the webhook
and feeds the engine. The API in brief: https://bot.zapps.me/docs (Zalo Bot Platform).
"""
