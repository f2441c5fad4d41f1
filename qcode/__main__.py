"""`python -m qcode`: the same entry point as the `qcode` console script."""

from qcode.cli import main

if __name__ == "__main__":
    main()
