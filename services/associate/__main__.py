"""`python -m services.associate`: run the associate service until SIGTERM."""

from servicekit.server import main

from .app import build

if __name__ == "__main__":
    main("associate", build)
