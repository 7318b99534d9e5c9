"""The benchmarks of scripts/benchmark.py: the suites network, data, train and restore (``suites``), the device suite
(``device``, with its sizes in ``device_config`` and its report in ``device_report``) and the command line (``cli``).
Shared timing helpers are ``gfpgan.utils.benchmark``."""
