"""The `v8dump` command the package installs: the Rust command line, run in this process."""

import os
import signal
import sys


def main():
    # As the binary behaves: Ctrl-C stops it at once, and output piped into `head` ends quietly.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    if hasattr(signal, "SIGPIPE"):
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    # `v8dump lldb-init` puts this package's directory on lldb's sys.path when lldb's own
    # Python cannot import it.
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    os.environ.setdefault("V8DUMP_PYTHON_PATH", here)
    from ._v8dump import cli_main

    sys.stdout.flush()
    sys.exit(cli_main(["v8dump"] + sys.argv[1:]))


if __name__ == "__main__":
    main()
