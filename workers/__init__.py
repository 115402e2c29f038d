"""Background work on arq: deadline wake-ups, reminders, overdue marking and the outbox sweep."""
