"""SQL of the appointments service (SQLAlchemy Core over the unit of work's connection):
no rule decisions, no protobuf. Rows come back as dataclasses; a constraint the database
enforces comes back as the domain's typed error (SLOT_TAKEN, EVENT_FULL).

rows.py            what the modules share: rows as dataclasses, writes whose constraint
                   violations become typed errors
bookings.py        bookings: insert and move (the exclusion constraint → SLOT_TAKEN), the
                   time associates' active bookings hold, state changes, assortments
private_events.py  events and invitations: the event row lock that orders answers, the
                   waitlist in turn, answers and promotions (the capacity CHECK → EVENT_FULL)
"""
