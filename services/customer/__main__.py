"""`python -m services.customer`: run the customer service until SIGTERM."""

from servicekit.server import main

from .app import build

if __name__ == "__main__":
    main("customer", build)
