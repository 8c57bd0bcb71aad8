#!/usr/bin/env python3
# Copied from the team reference (shared/reference/python-peers/bench_peers.py); owned by this project now.
"""Multi-process logging throughput of Python peers, with loss/duplicate check.

N worker processes each log M INFO records "worker W event I <padding>"; one writer
(listener thread or sink) writes them to a log folder with the template
"[ %(asctime)s ][ %(levelname)s ][ %(processName)s ][ %(message)s ]" and
datefmt "%Y-%m-%d,%H:%M:%S.%f" where supported. Prints one JSON line.

  python bench_peers.py --impl {acrilog,stdlib,loguru} --procs 4 --events 50000 --logdir DIR
  python bench_peers.py --impl mplog-sink --sink target/release/mplog-sink ...

mplog-sink: the workers log through the stdlib's logging.handlers.SocketHandler (nothing
else in them) into the real mplog-sink daemon (--python-listen on a Unix socket,
consolidated file, the same template and datefmt); the time runs from the sink listening
to the sink drained and stopped (SIGTERM), as acrilog's from start() to stop().
"""
import argparse, glob, json, logging, logging.handlers, multiprocessing as mp, os, re, signal, subprocess, sys, time

PAD = "finished processing request batch; queue depth nominal, reporting"
FMT = "[ %(asctime)s ][ %(levelname)s ][ %(processName)s ][ %(message)s ]"
DATEFMT = "%Y-%m-%d,%H:%M:%S.%f"


def patch_acrilog():
    # acrilog 1.1.4 passes a Formatter object as `fmt` to logging.Formatter, which Python
    # >= 3.8 validates and rejects ("Invalid format ..."); skip that validation.
    logging.PercentStyle.validate = lambda self: None


def acrilog_worker(info, w, m):
    patch_acrilog()
    from acrilog import MpLogger
    log = MpLogger.get_logger(info, name="bench.worker")
    for i in range(m):
        log.info("worker %d event %d %s", w, i, PAD)


def stdlib_worker(q, w, m):
    log = logging.getLogger("bench")
    log.handlers[:] = [logging.handlers.QueueHandler(q)]
    log.propagate = False
    log.setLevel(logging.INFO)
    for i in range(m):
        log.info("worker %d event %d %s", w, i, PAD)


def sink_worker(path, w, m):
    log = logging.getLogger("bench")
    log.handlers[:] = [logging.handlers.SocketHandler(path, None)]
    log.propagate = False
    log.setLevel(logging.INFO)
    for i in range(m):
        log.info("worker %d event %d %s", w, i, PAD)
    log.handlers[0].close()


def start_sink(binary, logdir):
    sock = os.path.join(logdir, "py.sock")
    p = subprocess.Popen(
        [binary, "--listen", "unix:" + os.path.join(logdir, "rs.sock"),
         "--python-listen", "unix:" + sock, "--logdir", logdir, "--name", "bench",
         "--consolidate", "--process-key", "none", "--max-bytes", str(50 * 1024 * 1024),
         "--format", "default=" + FMT, "--datefmt", DATEFMT],
        stderr=subprocess.PIPE, text=True)
    for line in p.stderr:
        if line.startswith("listening for Python on"):
            return p, sock
    raise SystemExit("mplog-sink did not start")


def loguru_worker(lg, w, m):
    for i in range(m):
        lg.info("worker {} event {} {}", w, i, PAD)


class MicroFormatter(logging.Formatter):
    def formatTime(self, record, datefmt=None):
        from datetime import datetime
        return datetime.fromtimestamp(record.created).strftime(datefmt or DATEFMT)


def run(impl, procs, m, logdir, start_method, sink=None):
    ctx = mp.get_context(start_method)
    os.makedirs(logdir, exist_ok=True)
    t0 = time.perf_counter()
    if impl == "acrilog":
        patch_acrilog()
        from acrilog import MpLogger
        mpl = MpLogger(name="bench", logdir=logdir, logging_level=logging.INFO,
                       level_formats={"default": FMT}, datefmt=DATEFMT, console=False,
                       consolidate=True, maxBytes=50 * 1024 * 1024, backupCount=0)
        mpl.start()
        t0 = time.perf_counter()
        ps = [ctx.Process(target=acrilog_worker, args=(mpl.logger_info(), w, m)) for w in range(procs)]
        [p.start() for p in ps]; [p.join() for p in ps]
        mpl.stop()
    elif impl == "stdlib":
        q = ctx.Queue()
        h = logging.handlers.RotatingFileHandler(os.path.join(logdir, "bench.log"), maxBytes=50 * 1024 * 1024, backupCount=1000)
        h.setFormatter(MicroFormatter(FMT, DATEFMT))
        listener = logging.handlers.QueueListener(q, h)
        listener.start()
        ps = [ctx.Process(target=stdlib_worker, args=(q, w, m)) for w in range(procs)]
        [p.start() for p in ps]; [p.join() for p in ps]
        listener.stop(); h.close()
    elif impl == "mplog-sink":
        proc, sock = start_sink(sink, logdir)
        t0 = time.perf_counter()
        ps = [ctx.Process(target=sink_worker, args=(sock, w, m)) for w in range(procs)]
        [p.start() for p in ps]; [p.join() for p in ps]
        proc.send_signal(signal.SIGTERM)
        proc.stderr.read()
        if proc.wait(120) != 0:
            raise SystemExit("mplog-sink failed")
    elif impl == "loguru":
        from loguru import logger
        logger.remove()
        logger.add(os.path.join(logdir, "bench.log"), enqueue=True, context=ctx, rotation="50 MB",
                   format="[ {time:YYYY-MM-DD,HH:mm:ss.SSSSSS} ][ {level} ][ {process.name} ][ {message} ]")
        ps = [ctx.Process(target=loguru_worker, args=(logger, w, m)) for w in range(procs)]
        [p.start() for p in ps]; [p.join() for p in ps]
        logger.complete(); logger.remove()
    secs = time.perf_counter() - t0
    return secs


def count(logdir, procs, m):
    """Count records in the writer's files (acrilog also writes per-key files: skip them)."""
    seen = {}
    pat = re.compile(r"worker (\d+) event (\d+) ")
    for path in glob.glob(os.path.join(logdir, "bench*")):
        if os.path.basename(path).startswith("bench.worker"):
            continue
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                mt = pat.search(line)
                if mt:
                    k = (int(mt.group(1)), int(mt.group(2)))
                    seen[k] = seen.get(k, 0) + 1
    lost = procs * m - len(seen)
    dup = sum(c - 1 for c in seen.values() if c > 1)
    return sum(seen.values()), lost, dup


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--impl", required=True, choices=["acrilog", "stdlib", "loguru", "mplog-sink"])
    ap.add_argument("--procs", type=int, default=4)
    ap.add_argument("--events", type=int, default=50000)
    ap.add_argument("--logdir", required=True)
    ap.add_argument("--start-method", default="spawn", choices=["spawn", "fork", "forkserver"])
    ap.add_argument("--sink", help="the mplog-sink binary (--impl mplog-sink)")
    a = ap.parse_args()
    secs = run(a.impl, a.procs, a.events, a.logdir, a.start_method, a.sink)
    found, lost, dup = count(a.logdir, a.procs, a.events)
    print(json.dumps({"impl": a.impl, "procs": a.procs, "events": a.events,
                      "start_method": a.start_method, "seconds": round(secs, 3),
                      "ev_per_s": round(a.procs * a.events / secs), "lines_found": found,
                      "lost": lost, "duplicated": dup}))


if __name__ == "__main__":
    main()
