"""Pure rules and values of the appointments service: no gRPC, no protobuf, no SQL, no
I/O (time zones come from the stdlib's IANA database, zoneinfo).

wallclock.py        wall-clock periods of a local day → instants, across daylight-saving
                    changes (skipped times cover nothing, repeated times are covered twice);
                    the grid of slot start times
store_hours.py      a store's opening hours and dated exceptions
schedules.py        an associate's weekly hours and exceptions (leave, training, other hours)
appointment_types.py duration, buffers, lead time, horizon, slot grid, specialities, stores
availability.py     the slots of a store for a type and who is free then
hosts.py            who hosts a visit: the one named, her own associate, or the fairest pick
bookings.py         a booking's life (booked → checked in → completed; cancelled, no-show;
                    reschedule) and its typed refusals (SLOT_TAKEN, BOOKING_STATE, …)
private_events.py   event places, answers with plus-ones, the waitlist and its promotions,
                    check-in at the door
"""
