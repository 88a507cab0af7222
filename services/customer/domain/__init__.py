"""Pure rules and values of the customer service: no gRPC, no protobuf, no SQL, no I/O.
The consent rule is consent.py; who may reach a customer, access.py and stewardship.py."""
