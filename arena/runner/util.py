"""Small helpers: ports, HTTP probes, process accounting from /proc."""
import http.client
import json
import os
import socket
import time

CLK_TCK = os.sysconf("SC_CLK_TCK")


def free_port(udp_too=False):
    """A free TCP port on loopback; udp_too: free for UDP as well (HTTP/3
    is served on UDP at the TLS port's number)."""
    for _ in range(50):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if not udp_too:
            return port
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
                u.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue
    raise OSError("no port free for both TCP and UDP")


def http_request(port, method, path, body=None, timeout=5.0):
    """(status, parsed JSON or None). Raises OSError when nobody listens."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        headers = {"Content-Type": "application/json"} if body is not None else {}
        data = json.dumps(body).encode() if body is not None else None
        conn.request(method, path, body=data, headers=headers)
        resp = conn.getresponse()
        raw = resp.read()
        try:
            return resp.status, json.loads(raw) if raw else None
        except ValueError:
            return resp.status, None
    finally:
        conn.close()


def proc_status_kb(pid, field):
    """VmRSS / VmHWM in kB from /proc/PID/status, or None."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def proc_cpu_seconds(pid):
    """utime + stime of the process (all its threads) in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        # the command name may contain spaces: split after its closing paren
        fields = f.read().rsplit(")", 1)[1].split()
    utime, stime = int(fields[11]), int(fields[12])
    return (utime + stime) / CLK_TCK


def tail(path, n=30):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-n:])
    except OSError:
        return "(no log)"


def core_times(core):
    """(busy, steal) seconds of one CPU core since boot, from /proc/stat.

    busy is user+nice+system+irq+softirq (idle, iowait and steal excluded);
    steal is time the hypervisor gave this virtual core to someone else.
    """
    with open("/proc/stat") as f:
        for line in f:
            if line.startswith(f"cpu{core} "):
                v = [int(x) for x in line.split()[1:]]
                # user nice system idle iowait irq softirq steal
                busy = v[0] + v[1] + v[2] + v[5] + v[6]
                steal = v[7] if len(v) > 7 else 0
                return busy / CLK_TCK, steal / CLK_TCK
    return 0.0, 0.0


def loadavg():
    with open("/proc/loadavg") as f:
        return [float(x) for x in f.read().split()[:3]]


def machine_busy_share(seconds=1.0):
    """Share of all cores that is busy over `seconds` (0..1), from /proc/stat."""
    def busy_total():
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        idle = v[3] + v[4]
        return sum(v[:8]) - idle, sum(v[:8])
    b0, t0 = busy_total()
    time.sleep(seconds)
    b1, t1 = busy_total()
    return (b1 - b0) / (t1 - t0) if t1 > t0 else 0.0
