"""Answers every request with a line that is not JSON (for command_system_test)."""
import sys

for line in sys.stdin:
    print("I am not speaking JSON today", flush=True)
