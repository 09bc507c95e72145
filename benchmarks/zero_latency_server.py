"""A zero-latency OpenAI-compatible endpoint for benchmarks (its own process).

Plain asyncio HTTP/1.1 with keep-alive: answers every chat completion at once with a fixed
correct-looking arithmetic answer, so the measured cost is the client side's.
Run: python benchmarks/zero_latency_server.py PORT
"""

import asyncio
import json
import re
import sys

MODELS = json.dumps({"object": "list", "data": [{"id": "bench", "object": "model"}]}).encode()
SUM = re.compile(rb"Compute (\d+) \+ (\d+)")


def completion(body: bytes) -> bytes:
    match = SUM.search(body)
    answer = int(match.group(1)) + int(match.group(2)) if match else 0
    n = 1
    nm = re.search(rb'"n":\s*(\d+)', body)
    if nm:
        n = int(nm.group(1))
    choice = '{"index":%d,"message":{"role":"assistant","content":"The sum is <answer>%d</answer>"},"finish_reason":"stop"}'
    choices = ",".join(choice % (i, answer) for i in range(n))
    return (
        '{"id":"x","object":"chat.completion","created":0,"model":"bench","choices":[%s],'
        '"usage":{"prompt_tokens":40,"completion_tokens":%d,"total_tokens":%d}}' % (choices, 8 * n, 40 + 8 * n)
    ).encode()


async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            body = await reader.readexactly(length) if length else b""
            payload = MODELS if head.startswith(b"GET") else completion(body)
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(payload) + payload
            )
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def main(port: int) -> None:
    server = await asyncio.start_server(handle, "127.0.0.1", port, backlog=1024)
    print("ready", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
