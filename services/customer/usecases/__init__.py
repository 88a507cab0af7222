"""One function per RPC or event, by capability. The only place that opens a unit of work
(servicekit.uow.Transactions) or a read connection; authorises, runs the domain rules,
calls storage and builds replies and events with messages/."""
