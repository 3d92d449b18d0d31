"""Where generated code runs: the ``Executor`` protocol (base.py), the shared process runner
(process.py), the in-sandbox test harness (harness.py) and one subpackage per backend:
``bubblewrap`` (local, the default), ``plain_subprocess`` (the weak, explicit opt-out) and
``cloud_function`` (client and the deployable server). Imports nothing from the rest of autorust.
"""
