# A Python program whose split of CPU time between its functions is known, measured in each
# thread's own CPU time (time.thread_time) so that other load on the machine does not shift
# it. The main thread (run_main) repeats rounds of 30 ms in a method (Shapes.area), 20 ms in a
# nested function (outer.<locals>.nested), 20 ms in a generator (squares, pulled by pull) and
# 30 ms in a C extension (json.dumps, called by encode_json), for the seconds given (default
# 2.4). A second thread (run_second) meanwhile hashes with hashlib (hash_blocks) for half as
# long. Of the CPU time under run_main and run_second: area 20%, nested 13.3%, squares 13.3%,
# json 20%, hashing 33.3%.
import hashlib
import json
import sys
import threading
import time


class Shapes:
    def area(self, seconds):
        end = time.thread_time() + seconds
        total = 0.0
        while time.thread_time() < end:
            for i in range(100):
                total += i * 3.5
        return total


def outer(seconds):
    def nested():
        end = time.thread_time() + seconds
        total = 0
        while time.thread_time() < end:
            for i in range(100):
                total += i % 7
        return total

    return nested()


def squares(end):
    while time.thread_time() < end:
        total = 0
        for i in range(100):
            total += i * i
        yield total


def pull(seconds):
    for _ in squares(time.thread_time() + seconds):
        pass


# Small enough that one json.dumps call (some 30 µs) overshoots a phase by little.
DOCUMENT = [{"id": i, "name": "item", "tags": ["a", "b"], "price": i * 0.5} for i in range(20)]


def encode_json(seconds):
    end = time.thread_time() + seconds
    while time.thread_time() < end:
        json.dumps(DOCUMENT)


def hash_blocks(seconds):
    block = b"x" * 65536
    end = time.thread_time() + seconds
    while time.thread_time() < end:
        hashlib.sha256(block).digest()


def run_main(seconds):
    end = time.thread_time() + seconds
    shapes = Shapes()
    while time.thread_time() < end:
        shapes.area(0.030)
        outer(0.020)
        pull(0.020)
        encode_json(0.030)


def run_second(seconds):
    hash_blocks(seconds)


seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 2.4
second = threading.Thread(target=run_second, args=(seconds / 2,))
second.start()
run_main(seconds)
second.join()
