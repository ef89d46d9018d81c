#!/usr/bin/env python3
"""The soak's load and its measurements (run by scripts/soak.sh, which starts and stops the server).

Against a server on loopback, for a bounded time: listener churn (raw HTTP listeners joining and leaving,
some that stop reading), sources flapping (ffmpeg pushing FLV chunked and MPEG-TS icecast-style, killed and
restarted), hostile clients (half-sent heads, slowloris, garbage, oversized heads, HTTP/0.9, bare LF, bad chunk
framing and junk TS from an authenticated source), and a control listener (ffmpeg) that must keep receiving the
control mount. Each minute: the server's RSS, open fds, the kernel's TCP sockets and memory (/proc/net/sockstat),
listeners and sources (/status.json). Prints one table row per minute and a markdown table at the end.
Every connection goes to 127.0.0.1 only; every loop stops at the deadline.
"""
import argparse
import asyncio
import json
import os
import random
import signal
import time
import urllib.request

PAGE = os.sysconf("SC_PAGE_SIZE")


class Counters:
    def __init__(self):
        self.c = {}

    def add(self, key, n=1):
        self.c[key] = self.c.get(key, 0) + n

    def get(self, key):
        return self.c.get(key, 0)


def proc_value(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])  # kB
    return 0


def sockstat():
    with open("/proc/net/sockstat") as f:
        for line in f:
            if line.startswith("TCP:"):
                parts = line.split()
                values = dict(zip(parts[1::2], (int(v) for v in parts[2::2])))
                return values.get("inuse", 0), values.get("mem", 0) * PAGE
    return 0, 0


def status(port):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/status.json", timeout=10) as r:
            doc = json.load(r)
        return doc["server"]["listeners"], doc["server"]["sources"], len(doc["mounts"])
    except Exception:
        return None, None, None


async def read_until_close(reader, limit_seconds):
    """Reads until the peer closes or the limit passes; returns (bytes read, closed by peer)."""
    total = 0
    deadline = time.monotonic() + limit_seconds
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return total, False
            data = await asyncio.wait_for(reader.read(65536), timeout=left)
            if not data:
                return total, True
            total += len(data)
    except asyncio.TimeoutError:
        return total, False
    except (ConnectionError, OSError):
        return total, True


async def listener(args, counters, mounts):
    mount = random.choice(mounts)
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", args.port), 10)
    except (OSError, asyncio.TimeoutError):
        counters.add("listener connect failed")
        return
    try:
        writer.write(f"GET {mount} HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: soak\r\n\r\n".encode())
        await writer.drain()
        line = await asyncio.wait_for(reader.readline(), 15)
        status_code = line.split()[1].decode() if len(line.split()) > 1 else "none"
        counters.add(f"listener {status_code}")
        if status_code != "200":
            return
        if random.random() < 0.1:
            # A listener that stops reading: the server must evict it, not hold its data.
            await asyncio.sleep(random.uniform(20, 60))
            counters.add("listener stalled")
            return
        got, closed = await read_until_close(reader, random.uniform(5, 90))
        counters.add("listener bytes", got)
        if closed:
            counters.add("listener closed by server")
    except (OSError, asyncio.TimeoutError, IndexError):
        counters.add("listener error")
    finally:
        writer.close()


async def hostile(args, counters):
    kind = random.choice(["half-head", "slowloris", "garbage", "big-head", "http09", "bare-lf", "bad-chunks", "junk-ts"])
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", args.port), 10)
    except (OSError, asyncio.TimeoutError):
        counters.add("hostile connect failed")
        return
    auth = "Authorization: Basic " + __import__("base64").b64encode(f"source:{args.password}".encode()).decode()
    started = time.monotonic()
    closed = False
    try:
        if kind == "half-head":
            writer.write(b"GET /soak.flv HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            _, closed = await read_until_close(reader, 120)
        elif kind == "slowloris":
            for b in b"GET /soak.ts HTTP/1.1\r\nHost: 127.0.0.1\r\nX-a: " + b"a" * 200:
                writer.write(bytes([b]))
                await writer.drain()
                got, closed = await read_until_close(reader, 3)
                if closed or time.monotonic() - started > 120:
                    break
        elif kind == "garbage":
            writer.write(random.randbytes(4096))
            _, closed = await read_until_close(reader, 30)
        elif kind == "big-head":
            writer.write(b"GET /soak.flv HTTP/1.1\r\nHost: 127.0.0.1\r\nX-big: " + b"b" * 65536 + b"\r\n\r\n")
            _, closed = await read_until_close(reader, 30)
        elif kind == "http09":
            writer.write(b"GET /soak.flv\r\n")
            _, closed = await read_until_close(reader, 30)
        elif kind == "bare-lf":
            writer.write(b"GET /soak.flv HTTP/1.1\nHost: 127.0.0.1\n\n")
            _, closed = await read_until_close(reader, 10)
        elif kind == "bad-chunks":
            mount = f"/hostile-{random.randrange(5)}.flv"
            writer.write(f"POST {mount} HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}\r\nContent-Type: video/x-flv\r\nTransfer-Encoding: chunked\r\n\r\n".encode())
            writer.write(b"zz\r\nnot a chunk\r\n")
            _, closed = await read_until_close(reader, 30)
        elif kind == "junk-ts":
            mount = f"/hostile-{random.randrange(5)}.ts"
            writer.write(f"PUT {mount} HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}\r\nContent-Type: video/mp2t\r\n\r\n".encode())
            for _ in range(20):
                writer.write(random.randbytes(8192))
                await writer.drain()
                got, closed = await read_until_close(reader, 1)
                if closed:
                    break
        await writer.drain()
    except (OSError, asyncio.TimeoutError):
        closed = True
    finally:
        writer.close()
    counters.add(f"hostile {kind}: closed by server" if closed else f"hostile {kind}: held to our limit")
    counters.add("hostile seconds held", int(time.monotonic() - started))


async def keep(n, make, deadline):
    """Keeps n copies of a task running until the deadline, starting a new one whenever one ends."""
    tasks = set()
    while time.monotonic() < deadline:
        while len(tasks) < n:
            tasks.add(asyncio.create_task(make()))
            await asyncio.sleep(0.02)
        done, tasks = await asyncio.wait(tasks, timeout=1, return_when=asyncio.FIRST_COMPLETED)
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def flapping_source(args, counters, mount, deadline):
    sample = os.path.join(args.root, "samples", "sample.flv" if mount.endswith(".flv") else "sample.ts")
    if mount.endswith(".flv"):
        # ffmpeg's HTTP output: POST, chunked.
        out = ["-f", "flv", f"http://source:{args.password}@127.0.0.1:{args.port}{mount}"]
    else:
        # ffmpeg's icecast://: PUT with no length, body until close (read by Savate itself).
        out = ["-f", "mpegts", "-content_type", "video/mp2t", f"icecast://source:{args.password}@127.0.0.1:{args.port}{mount}"]
    while time.monotonic() < deadline:
        proc = await asyncio.create_subprocess_exec(
            "ffmpeg", "-nostdin", "-v", "error", "-re", "-stream_loop", "-1", "-i", sample, "-c", "copy", *out,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
        counters.add("source starts")
        try:
            await asyncio.wait_for(proc.wait(), timeout=max(1, min(random.uniform(20, 90), deadline - time.monotonic())))
            counters.add("source ended by itself")
        except asyncio.TimeoutError:
            proc.send_signal(random.choice([signal.SIGKILL, signal.SIGTERM]))
            await proc.wait()
        await asyncio.sleep(random.uniform(3, 15))


async def control_listener(args, counters, deadline):
    """ffmpeg reading the control mount without decoding: each exit before the deadline is a failure."""
    while time.monotonic() < deadline:
        proc = await asyncio.create_subprocess_exec(
            "ffmpeg", "-nostdin", "-v", "error", "-i", f"http://127.0.0.1:{args.port}/control.flv", "-c", "copy", "-f", "null", "-",
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
        try:
            await asyncio.wait_for(proc.wait(), timeout=max(1, deadline - time.monotonic()))
            counters.add("control listener dropped")
            await asyncio.sleep(1)
        except asyncio.TimeoutError:
            proc.terminate()
            await proc.wait()


async def sampler(args, counters, deadline, rows, first_minute=0, label=None):
    start = time.monotonic()
    header = f"{'min':>5} {'rss MB':>7} {'hwm MB':>7} {'fds':>6} {'tcp sockets':>11} {'tcp mem MB':>10} {'listeners':>9} {'sources':>7} {'mounts':>6} {'hostile':>7} {'control drops':>13}"
    if label is None:
        print(header, flush=True)
    minute = first_minute
    while True:
        try:
            rss = proc_value(args.pid, "VmRSS") / 1024
            hwm = proc_value(args.pid, "VmHWM") / 1024
            fds = len(os.listdir(f"/proc/{args.pid}/fd"))
        except FileNotFoundError:
            print("server process is gone", flush=True)
            rows.append(None)
            return
        tcp_inuse, tcp_mem = sockstat()
        listeners, sources, mounts = status(args.port)
        row = (label or minute, rss, hwm, fds, tcp_inuse, tcp_mem / 1048576, listeners, sources, mounts,
               counters.get("hostile open"), counters.get("control listener dropped"))
        rows.append(row)
        print(f"{row[0]:>5} {row[1]:>7.0f} {row[2]:>7.0f} {row[3]:>6} {row[4]:>11} {row[5]:>10.1f} {str(row[6]):>9} {str(row[7]):>7} {str(row[8]):>6} {row[9]:>7} {row[10]:>13}", flush=True)
        minute += 1
        next_at = start + (minute - first_minute) * 60
        if next_at > deadline + 1:
            return
        await asyncio.sleep(max(0, next_at - time.monotonic()))


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--pid", type=int, required=True)
    parser.add_argument("--minutes", type=float, required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--root", required=True)
    parser.add_argument("--listeners", type=int, default=100)
    parser.add_argument("--hostile", type=int, default=100)
    args = parser.parse_args()

    counters = Counters()
    rows = []
    deadline = time.monotonic() + args.minutes * 60
    mounts = ["/soak.flv", "/soak.ts", "/control.flv", "/control.ts"]

    async def counted_hostile():
        counters.add("hostile open")
        try:
            await hostile(args, counters)
        finally:
            counters.add("hostile open", -1)

    sample_task = asyncio.create_task(sampler(args, counters, deadline, rows))
    load = [
        keep(args.listeners, lambda: listener(args, counters, mounts), deadline),
        keep(args.hostile, counted_hostile, deadline),
        flapping_source(args, counters, "/soak.flv", deadline),
        flapping_source(args, counters, "/soak.ts", deadline),
        control_listener(args, counters, deadline),
    ]
    await asyncio.gather(*load)
    await sample_task
    # With the load gone: what the server gives back.
    print("load stopped; one more sample in 60 s", flush=True)
    await asyncio.sleep(60)
    await sampler(args, counters, time.monotonic() - 1, rows, first_minute=len(rows), label="after")

    print()
    print("| minute | RSS (MB) | peak RSS (MB) | fds | TCP sockets (host) | TCP memory (host, MB) | listeners | sources | mounts | hostile open | control drops |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for row in rows:
        if row is None:
            print("| the server process died | | | | | | | | | | |")
            continue
        print(f"| {row[0]} | {row[1]:.0f} | {row[2]:.0f} | {row[3]} | {row[4]} | {row[5]:.1f} | {row[6]} | {row[7]} | {row[8]} | {row[9]} | {row[10]} |")
    print()
    print("Counters:")
    for key in sorted(counters.c):
        if key != "hostile open":
            print(f"- {key}: {counters.c[key]}")
    return 1 if any(r is None for r in rows) else 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
