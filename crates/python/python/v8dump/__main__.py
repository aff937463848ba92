"""`python -m v8dump ...`: the `v8dump` command line."""

from ._cli import main

main()
