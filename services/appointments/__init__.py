"""The appointments service: availability in every time zone, bookings that cannot
overlap, the visit's life, prepared assortments, private events with RSVPs and a
waitlist (issue 9). So far its contract (protos/atelier/appointments/v1), domain,
storage and migrations; its api, use cases, consumers and jobs come next."""
