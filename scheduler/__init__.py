"""Time triggers and the jobs behind them: the outbox sender, deadline reminders, digests.

Every job writes outbox rows under a unique key, so any number of processes may
fire the same trigger; only the senders talk to the messengers.
"""
