"""Answers like echo_system.py but never answers the query "hang" (for command_system_test)."""
import json
import os
import sys
import time

for line in sys.stdin:
    request = json.loads(line)
    if request["query"] == "hang":
        time.sleep(3600)
    reply = {"id": request["id"], "output": json.dumps({"pid": os.getpid()})}
    print(json.dumps(reply), flush=True)
