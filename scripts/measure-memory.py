#!/usr/bin/env python3
"""Memory under two attacks from issue 9, measured against the real server (not in CI; the machine is shared, keep N small).

  partial   N sources each send a partly written 4 MiB FLV tag and hold it; prints the server's RSS at baseline, at the
            peak, and 10/30/60 s after they left, and how many the partial-input budget dropped.
  listeners N listeners that never read; prints the kernel's TCP memory (/proc/net/sockstat) before and once their
            send buffers are full, per listener, for each listener-send-buffer given.

Usage: scripts/measure-memory.py partial [N]          (default 200)
       scripts/measure-memory.py listeners [N] [SIZES] (default 200, "256KiB,64KiB")
Environment variables given to this script (e.g. DOTNET_GCConserveMemory) pass to the server.
Build first: dotnet build src/Savate.Server -c Release
"""
import os, socket, subprocess, sys, tempfile, time, base64, struct

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DLL = os.path.join(ROOT, "src/Savate.Server/bin/Release/net10.0/Savate.Server.dll")
MARKS = tuple(int(x) for x in os.environ.get("MARKS", "10,30,60").split(","))
AUTH = base64.b64encode(b"source:change-me").decode()


def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p


def start_server(yaml):
    port = free_port()
    cfg = tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False)
    cfg.write(yaml); cfg.close()
    log = open(os.environ["SERVER_LOG"], "w") if os.environ.get("SERVER_LOG") else subprocess.DEVNULL
    proc = subprocess.Popen(["dotnet", DLL, "--config", cfg.name, "--urls", f"http://127.0.0.1:{port}"],
                            stdout=log, stderr=subprocess.STDOUT)
    for _ in range(600):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close(); break
        except OSError:
            time.sleep(0.1)
    return proc, port


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0


def tcp_mem_pages():
    with open("/proc/net/sockstat") as f:
        for line in f:
            if line.startswith("TCP:"):
                fields = line.split()
                return int(fields[fields.index("mem") + 1])
    return 0


def partial(n):
    proc, port = start_server(f"""
server:
  source-password: change-me
  source-timeout: 120s
  source-min-rate: 0
  max-dynamic-mounts: {n + 10}
""")
    try:
        time.sleep(5)
        base = rss_mb(proc.pid)
        print(f"baseline RSS {base:.0f} MB")
        header = b"FLV\x01\x05\x00\x00\x00\x09\x00\x00\x00\x00"
        size = 4 * 1024 * 1024 - 1
        tag = bytes([9, size >> 16 & 0xFF, size >> 8 & 0xFF, size & 0xFF, 0, 0, 0, 0, 0, 0, 0, 0x17])
        body = b"\x00" * (3584 * 1024)
        socks, peak, dropped = [], base, 0
        for i in range(n):
            s = socket.create_connection(("127.0.0.1", port))
            s.sendall(f"PUT /p{i}.flv HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {AUTH}\r\nContent-Type: video/x-flv\r\n\r\n".encode())
            s.recv(4096)
            try:
                s.settimeout(10)
                s.sendall(header + tag + body)
            except OSError:
                dropped += 1
            socks.append(s)
            peak = max(peak, rss_mb(proc.pid))
        time.sleep(3)
        for s in socks:
            s.setblocking(False)
            try:
                if s.recv(1) == b"":
                    dropped += 1
            except BlockingIOError:
                pass
            except OSError:
                dropped += 1
        peak = max(peak, rss_mb(proc.pid))
        print(f"{n} sources holding {n * len(body) / 2**20:.0f} MiB of partial tags sent: peak RSS {peak:.0f} MB, {dropped} dropped by the budget")
        for s in socks:
            s.close()
        start = time.time()
        for mark in MARKS:
            time.sleep(max(0, start + mark - time.time()))
            print(f"{mark:>3} s after they left: RSS {rss_mb(proc.pid):.0f} MB")
    finally:
        proc.terminate(); proc.wait()


def listeners(n, sizes):
    for size in sizes:
        proc, port = start_server(f"""
server:
  listener-send-buffer: {size}
mounts:
  - path: /loop.flv
    format: flv
    max-lag: 100s
    evict-lag: 200s
    buffer: 300s
    buffer-bytes: 512MiB
    fallback:
      - file: {ROOT}/samples/sample.flv
""")
        try:
            time.sleep(3)
            before = tcp_mem_pages()
            socks = []
            for _ in range(n):
                s = socket.socket()
                s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
                s.connect(("127.0.0.1", port))
                s.sendall(b"GET /loop.flv HTTP/1.1\r\nHost: x\r\n\r\n")
                socks.append(s)
            # sample.flv plays at about 47 KB/s: wait until the kernel's TCP memory stops growing.
            last, stable = -1, 0
            while stable < 3:
                time.sleep(5)
                now = tcp_mem_pages()
                stable = stable + 1 if now == last or abs(now - last) < n // 10 else 0
                last = now
            page = os.sysconf("SC_PAGE_SIZE")
            per = (last - before) * page / n / 1024
            print(f"listener-send-buffer {size}: {n} non-reading listeners hold {(last - before) * page / 2**20:.0f} MiB of kernel TCP memory, {per:.0f} KiB each")
            for s in socks:
                s.close()
        finally:
            proc.terminate(); proc.wait()


if __name__ == "__main__":
    what = sys.argv[1] if len(sys.argv) > 1 else "partial"
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 200
    if what == "partial":
        partial(count)
    else:
        listeners(count, (sys.argv[3] if len(sys.argv) > 3 else "256KiB,64KiB").split(","))
