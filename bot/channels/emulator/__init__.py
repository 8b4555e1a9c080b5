"""The web emulator: a local chat page where demo personas talk to the bot, no messenger needed.

``channel`` holds the personas' chats in memory and is the ``emulator`` channel
(``send`` for proactive messages), ``web`` mounts the page and its JSON/SSE API
on our aiohttp app, ``clock`` is the demo clock that "next day" moves,
``sanitize`` keeps message HTML to Telegram's tags, ``static/`` is the page
itself (plain HTML, CSS and JavaScript, no build step, nothing from a CDN)::

    clock = DemoClock()
    engine = Engine(db, settings, clock=clock)
    channel = EmulatorChannel(engine, personas)
    mount(runtime.web_app, channel, clock)
"""

from bot.channels.emulator.channel import CHANNEL, EmulatorChannel, Entry, Persona
from bot.channels.emulator.clock import DemoClock
from bot.channels.emulator.web import mount

__all__ = ["CHANNEL", "DemoClock", "EmulatorChannel", "Entry", "Persona", "mount"]
