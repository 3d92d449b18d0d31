"""Where generated code runs (imported as ``autorust.sandbox``): the ``Executor`` protocol
(base.py), one subpackage per backend
(``bubblewrap``: local, the default; ``cloud_function``: client and the deployable server;
``unprivileged_uid``: the function's fallback without namespaces; ``plain_subprocess``: the weak,
explicit opt-out) and what they share: ``supervisor.py`` (runs inside a sandbox: the warm
interpreter of one job), ``instance.py`` (the host side of one sandbox), ``pool.py`` (the warm
pool), ``channel.py`` (pipe I/O that never pauses), ``leases.py`` (host-wide uid leases and job
dirs), ``process.py`` (the plain child process runner) and harness.py (the in-sandbox test
harness). Imports nothing from the rest of autorust.
"""
