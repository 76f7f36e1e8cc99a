# A Python program that spends its time in several known functions, each doing a fixed amount
# of work per round (no system calls in the loops, so that samplers that stop the process, as
# py-spy does, and samplers that interrupt the CPU, as prof does, see the same thing): a
# method, a nested function, a generator, string building, sorting (C under Python) and
# json.dumps. Prints "ready", then runs for the seconds given (default 30). python_mix_cpu.py
# measures each function's share of its CPU time.
import json
import sys
import time


class Matrix:
    def multiply(self, n):
        total = 0.0
        for i in range(n):
            total += i * 1.5 * (i % 3)
        return total


def outer(n):
    def nested():
        total = 0
        for i in range(n):
            total ^= i << 1
        return total

    return nested()


def evens(n):
    for i in range(n):
        if i % 2 == 0:
            yield i


def consume(n):
    return sum(1 for _ in evens(n))


def build_text(n):
    parts = []
    for i in range(n):
        parts.append(str(i))
    return ",".join(parts)


def sort_numbers(n):
    data = [(i * 7919) % n for i in range(n)]
    data.sort()
    return data[0]


DOCUMENT = [{"id": i, "name": "item", "tags": ["a", "b"]} for i in range(200)]


def encode(rounds):
    for _ in range(rounds):
        json.dumps(DOCUMENT)


def round_of_work():
    Matrix().multiply(60000)
    outer(40000)
    consume(30000)
    build_text(20000)
    sort_numbers(20000)
    encode(20)


if __name__ == "__main__":
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 30.0
    end = time.time() + seconds
    print("ready", flush=True)
    while time.time() < end:
        round_of_work()

