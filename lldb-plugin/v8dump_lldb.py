"""The lldb plugin by path, for ~/.lldbinit lines written before it moved into the package.

The plugin is `v8dump.lldb`, installed with the `v8dump` Python package:

    (lldb) command script import v8dump.lldb

(`v8dump lldb-init` writes that line). This file loads the same commands for an older line
`command script import /path/to/lldb-plugin/v8dump_lldb.py`; the package must be importable
by lldb's Python.
"""

from v8dump.lldb import *  # noqa: F401,F403 (the cmd_* handlers lldb names)
from v8dump.lldb import __lldb_init_module  # noqa: F401
