"""checks.py - keep-going assertions for the Python test drivers.

A failed check is printed and recorded, and the test goes on, so one run
shows every failure; the driver exits non-zero at the end when any was
recorded (`failures`). One list per test process.
"""

failures = []


def check(cond, msg):
    """Record a failure (and keep going, so one run shows them all)."""
    if not cond:
        failures.append(msg)
        print("FAIL: " + msg, flush=True)
    return cond
