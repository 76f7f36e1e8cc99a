# A Python program whose stack is 30 Python frames deep (<module>, 28 calls of recurse, spin)
# while it spins in pure Python for the seconds given (default 5). It prints "ready" when it
# is that deep, then, at the end, the loops it made: its work, for measuring how much a
# profiler slows it down.
import sys
import time

DEPTH = 30


def spin(end):
    loops = 0
    while time.time() < end:
        for _ in range(1000):
            pass
        loops += 1
    return loops


def recurse(depth, end):
    if depth == 1:
        print("ready", flush=True)
        return spin(end)
    return recurse(depth - 1, end)


seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 5.0
print(f"loops {recurse(DEPTH - 2, time.time() + seconds)}", flush=True)
