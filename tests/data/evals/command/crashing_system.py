"""Answers like echo_system.py but dies half-way through the reply to the
query "crash", exiting with status 3 (for command_system_test)."""
import json
import os
import sys

for line in sys.stdin:
    request = json.loads(line)
    if request["query"] == "crash":
        sys.stdout.write('{"id": "')
        sys.stdout.flush()
        os._exit(3)
    reply = {"id": request["id"], "output": json.dumps({"pid": os.getpid()})}
    print(json.dumps(reply), flush=True)
