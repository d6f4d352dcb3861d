# Probe: 200 sockets that never send a complete request (silent, 16 bytes of the
# HTTP/2 preface, preface + SETTINGS) against header timeout 2 s and 50 connections.
import os, select, socket, subprocess, sys, time, urllib.request
binary, port = sys.argv[1], int(sys.argv[2])
env = dict(os.environ, OVERKILL_LISTEN=f"127.0.0.1:{port}", OVERKILL_ADMIN_LISTEN=f"127.0.0.1:{port+1}",
           DATABASE_URL=f"sqlite:///tmp/overkill-probe-sock-{port}.db", OVERKILL_LOG_LEVEL="error",
           OVERKILL_HEADER_READ_TIMEOUT_MS="2000", OVERKILL_MAX_CONNECTIONS="50")
p = subprocess.Popen([binary], env=env, stderr=subprocess.DEVNULL)
for _ in range(100):
    try: urllib.request.urlopen(f"http://127.0.0.1:{port+1}/livez"); break
    except Exception: time.sleep(0.1)
preface = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
socks = []
t0 = time.time()
refused = 0
for i in range(200):
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
    except OSError:
        refused += 1
        continue
    if i % 3 == 1: s.sendall(preface[:16])
    if i % 3 == 2: s.sendall(preface + bytes([0, 0, 0, 4, 0, 0, 0, 0, 0]))
    socks.append(s)
print(f"connected {len(socks)} in {time.time()-t0:.2f}s ({refused} connects timed out after 5 s: backlog full)")
time.sleep(10)  # 200 sockets / 50 slots x 2 s = 8 s to clear them all
open_count = 0
for s in socks:
    s.setblocking(False)
    try:
        d = s.recv(65536)
        # h2 servers answer the preface with SETTINGS; read again for EOF
        while d:
            d = s.recv(65536)
    except BlockingIOError:
        open_count += 1
    except OSError:
        pass
t = time.time()
try:
    status = urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/products", timeout=12).status
except Exception as e:
    status = repr(e)
print(f"still open after 10 s: {open_count}/{len(socks)}; GET: {status} in {time.time()-t:.2f}s")
p.terminate(); p.wait()
