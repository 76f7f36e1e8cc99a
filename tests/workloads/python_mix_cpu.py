# What a profiler of python_mix.py should find, measured without one: runs python_mix.py's round
# of work for the seconds given (default 20) and prints each function's share of the thread's
# CPU time, timed with time.thread_time_ns() around each call. json.dumps is timed whole on
# even rounds and split on odd rounds into JSONEncoder.iterencode (which runs json's C encoder)
# and the rest, which gives iterencode's share. Prints "ready" first, like python_mix.py, so
# that a profiler can sample it meanwhile and be compared with what it prints at the end
# (docs/python.md, "Compared with py-spy").
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import python_mix  # noqa: E402

clock = time.thread_time_ns
encoder = json._default_encoder
spent = {}


def add(name, ns):
    spent[name] = spent.get(name, 0) + ns


def timed_round(split_json):
    t0 = clock()
    python_mix.Matrix().multiply(60000)
    t1 = clock()
    python_mix.outer(40000)
    t2 = clock()
    python_mix.consume(30000)
    t3 = clock()
    python_mix.build_text(20000)
    t4 = clock()
    python_mix.sort_numbers(20000)
    t5 = clock()
    if split_json:
        # The same work as encode(20): what json.dumps(DOCUMENT) runs, iterencode timed apart.
        in_iterencode = 0
        for _ in range(20):
            a = clock()
            chunks = encoder.iterencode(python_mix.DOCUMENT, _one_shot=True)
            in_iterencode += clock() - a
            "".join(chunks)
        t6 = clock()
        add("split rounds: iterencode", in_iterencode)
        add("split rounds: json", t6 - t5)
    else:
        python_mix.encode(20)
        t6 = clock()
    for name, start, end in (
        ("Matrix.multiply", t0, t1),
        ("outer (nested)", t1, t2),
        ("consume (evens, genexpr)", t2, t3),
        ("build_text", t3, t4),
        ("sort_numbers (listcomp)", t4, t5),
        ("json (encode, dumps, iterencode)", t5, t6),
    ):
        add(name, end - start)


seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 20.0
end = time.time() + seconds
print("ready", flush=True)
start = clock()
rounds = 0
while time.time() < end:
    timed_round(split_json=rounds % 2 == 1)
    rounds += 1
total = clock() - start
for name, ns in spent.items():
    if not name.startswith("split"):
        print(f"{name:34} {100 * ns / total:5.1f}%")
iterencode = spent["split rounds: iterencode"] / spent["split rounds: json"]
print(f"{'JSONEncoder.iterencode':34} {100 * spent['json (encode, dumps, iterencode)'] * iterencode / total:5.1f}%")
print(f"({rounds} rounds, {total / 1e9:.1f} s of CPU)")
