"""`python -m bench` (`make bench`): what the customer service and the gateway cost,
measured against ceilings built from the same stack in the same run.

Modules: __main__ (CLI and orchestration), infra (PostgreSQL and NATS), processes (the
servers under test, each its own process), echo (the ceiling servers), generators (wrk,
h2load and their Python fallbacks), seeding (100,000 customers by COPY), stores (the
stores the bench names, made known to the customer service as its directory consumer
learns them), search (the latency measure), report (table and results.json), scale (the
issue 3/4 measures of customer_data and associate_bench as rows of the same table).
"""
