"""A Python service calls a DIPS function with a plain NATS request (nats-py): no DIPS code.

    python3 plain-call.py nats://127.0.0.1:4222,nats://127.0.0.1:4223
"""
import asyncio
import json
import sys
import time

import nats
from nats.errors import NoRespondersError, TimeoutError


async def main() -> int:
    servers = (sys.argv[1] if len(sys.argv) > 1 else "nats://127.0.0.1:4222").split(",")
    try:
        nc = await nats.connect(servers=servers, connect_timeout=2, max_reconnect_attempts=1)
    except Exception as err:  # nats-py raises several kinds here
        print(f"cannot reach NATS: {err}", file=sys.stderr)
        return 69
    timeout = 5.0
    body = json.dumps({"pSN": "42", "pData": [(i * 37) % 100 for i in range(80)]}).encode()
    headers = {
        "Dips-Encoding": "json",
        # the worker stops working for us when we stop waiting
        "Dips-Deadline": str(int((time.time() + timeout) * 1000)),
    }
    try:
        reply = await nc.request("dips.fn.ecard", body, timeout=timeout, headers=headers)
    except NoRespondersError:
        print("no worker serves ecard", file=sys.stderr)
        return 69
    except TimeoutError:
        print("no reply", file=sys.stderr)
        return 69
    finally:
        await nc.close()
    reply_headers = reply.headers or {}
    if "Nats-Service-Error-Code" in reply_headers:
        print(f"DIPS error {reply_headers['Nats-Service-Error-Code']}: {reply_headers.get('Nats-Service-Error')}", file=sys.stderr)
        return 1
    with open("card.png", "wb") as f:
        f.write(reply.data)
    print(f"card.png: {reply_headers.get('Content-Type')}, {len(reply.data)} bytes")
    return 0


sys.exit(asyncio.run(main()))
