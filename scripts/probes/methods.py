# Probe: 120 000 pipelined requests with random method names; RSS and /metrics size after.
import os, random, socket, string, subprocess, sys, time, urllib.request
binary, port = sys.argv[1], int(sys.argv[2])
db = f"/tmp/overkill-probe-methods-{port}.db"
for f in (db, db + "-wal", db + "-shm"):
    if os.path.exists(f): os.remove(f)
env = dict(os.environ, OVERKILL_LISTEN=f"127.0.0.1:{port}", OVERKILL_ADMIN_LISTEN=f"127.0.0.1:{port+1}",
           DATABASE_URL=f"sqlite://{db}", OVERKILL_LOG_LEVEL="error", OVERKILL_LOG_FORMAT="json")
p = subprocess.Popen([binary], env=env, stderr=subprocess.DEVNULL)
for _ in range(100):
    try: urllib.request.urlopen(f"http://127.0.0.1:{port+1}/livez"); break
    except Exception: time.sleep(0.1)
def rss(): return int([l for l in open(f"/proc/{p.pid}/status") if l.startswith("VmRSS")][0].split()[1]) // 1024
def metrics(): return len(urllib.request.urlopen(f"http://127.0.0.1:{port+1}/metrics").read())
print("before: rss_mb", rss(), "metrics_bytes", metrics())
total, batch = 120_000, 1000
for start in range(0, total, batch):
    s = socket.create_connection(("127.0.0.1", port))
    reqs = "".join(f"M{''.join(random.choices(string.ascii_uppercase, k=10))} /x HTTP/1.1\r\nHost: x\r\n\r\n" for _ in range(batch))
    s.sendall(reqs.encode()); got = b""
    while got.count(b"HTTP/1.1 ") < batch:
        d = s.recv(1 << 20)
        if not d: break
        got += d
    s.close()
print("after:  rss_mb", rss(), "metrics_bytes", metrics())
p.terminate(); p.wait()
