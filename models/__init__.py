"""The domain of the approval–supervision interaction platform (审管互动平台).

Tortoise models, state machines, the working-day calendar, routing, identifiers,
operations that change state, and the events they record. Imports nothing from
``api`` or ``workers``.
"""
