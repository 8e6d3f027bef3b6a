"""A well-behaved system for command_system_test (protocol: evals/src/command_system.cc).

It calls the first tool with the query and its own pid as arguments, so the
test can check each answer belongs to its request and tell the copies apart.
Some queries ask for the other kinds of reply.
"""
import json
import os
import sys

for line in sys.stdin:
    request = json.loads(line)
    query = request["query"]
    tool = request["tools"][0]["name"] if request["tools"] else "none"
    call = {"name": tool, "arguments": {"query": query, "pid": os.getpid()}}
    reply = {"id": request["id"]}
    if query == "reply with calls":
        reply["calls"] = [call]
    elif query == "reply with an error":
        reply["error"] = "asked to fail"
    elif query == "reply with a wrong id":
        reply["id"] = "not " + request["id"]
    elif query == "echo the conversation and the schema":
        echoed = {"messages": request["messages"], "openai_tools": request["openai_tools"]}
        reply["calls"] = [{"name": tool, "arguments": echoed}]
    else:
        reply["output"] = json.dumps([call])
        reply["ttft_ms"] = 1.5
        reply["output_tokens"] = len(query.split())
    print(json.dumps(reply), flush=True)
