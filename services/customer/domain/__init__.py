"""Pure rules and values of the customer service: no gRPC, no protobuf, no SQL, no I/O.
The consent rule is consent.py; who may reach a customer, and whether a caller still
stands where her token says, access.py and stewardship.py; what the directory of stores
and staff learns from events and what a request may name, directory.py; who a till sale
is for, matching.py; replays keyed by the caller's own ids, replays.py."""
