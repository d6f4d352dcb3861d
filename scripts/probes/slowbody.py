# Probe: two uploads at 1 byte/s with OVERKILL_MAX_CONCURRENT_REQUESTS=2; a GET's answer, and what the uploads get.
import os, socket, subprocess, sys, threading, time, urllib.request, urllib.error
binary, port = sys.argv[1], int(sys.argv[2])
env = dict(os.environ, OVERKILL_LISTEN=f"127.0.0.1:{port}", OVERKILL_ADMIN_LISTEN=f"127.0.0.1:{port+1}",
           DATABASE_URL=f"sqlite:///tmp/overkill-probe-slow-{port}.db", OVERKILL_LOG_LEVEL="error", OVERKILL_MAX_CONCURRENT_REQUESTS="2")
p = subprocess.Popen([binary], env=env, stderr=open(f"/tmp/overkill-probe-slow-{port}.log", "w"))
for _ in range(100):
    try: urllib.request.urlopen(f"http://127.0.0.1:{port+1}/livez"); break
    except Exception: time.sleep(0.1)
results = []
def upload():
    s = socket.create_connection(("127.0.0.1", port)); t = time.time()
    s.sendall(b"POST /v1/products HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n")
    s.settimeout(1.0)
    for _ in range(40):
        try:
            d = s.recv(4096)
            results.append(f"upload answered {d.split(b' ')[1].decode()} after {time.time()-t:.1f}s"); return
        except socket.timeout:
            try: s.sendall(b" ")
            except OSError: break
    results.append("upload: no answer in 40 s")
threads = [threading.Thread(target=upload) for _ in range(2)]
for t in threads: t.start()
time.sleep(1)
t = time.time()
try:
    r = urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/products", timeout=40); status = r.status
except urllib.error.HTTPError as e: status = e.code
print(f"GET during the uploads: {status} in {time.time()-t:.2f}s")
for th in threads: th.join()
print("; ".join(results))
p.terminate(); p.wait()
