# A busy Python program whose hot functions tests know: the main thread runs leaf() under a
# nested function of a method; a second thread runs leaf() through a generator. It prints the
# address of each function's code object and each thread's id, then "ready", then spins for
# the seconds given (default 5).
import sys
import threading
import time


def leaf(n):
    total = 0
    for i in range(n):
        total += i * i
    return total


def numbers():
    while True:
        yield leaf(2000)


def spin(end):
    for _ in numbers():
        if time.time() > end:
            break


class Worker:
    def run(self, end):
        def inner():
            while time.time() < end:
                leaf(2000)

        inner()


seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 5.0
end = time.time() + seconds
second = threading.Thread(target=spin, args=(end,))
second.start()
for name, code in [
    ("leaf", leaf.__code__),
    ("numbers", numbers.__code__),
    ("spin", spin.__code__),
    ("run", Worker.run.__code__),
    ("inner", [c for c in Worker.run.__code__.co_consts if hasattr(c, "co_code")][0]),
    ("module", sys._getframe().f_code),
]:
    print(f"code {name} {id(code)}")
print(f"thread main {threading.get_native_id()}")
print(f"thread second {second.native_id}")
print("ready", flush=True)
Worker().run(end)
second.join()
