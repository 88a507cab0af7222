"""gRPC servicers, one per proto service (customer_service.py, purchase_service.py,
timeline_service.py, privacy_service.py): each RPC takes the caller, reads its request
(requests.py, with the rules in domain/) and calls one use case."""
