# A Python program whose frames tests know: the main thread sleeps in a generator driven by
# a nested function of a method; a reporter thread prints the main thread's frames (code
# object address, f_lasti, f_lineno, qualified name, file) as the interpreter sees them, then
# its own thread and idle function, then "ready", and sleeps.
import sys
import threading
import time


def numbers():
    while True:
        time.sleep(3600)
        yield 1


class Worker:
    def run(self):
        def inner():
            for _ in numbers():
                pass

        inner()


def report(ident, native_id, want):
    deadline = time.time() + 30
    while time.time() < deadline:
        frame = sys._current_frames().get(ident)
        if frame is not None and frame.f_code is want:
            break
        time.sleep(0.01)
    while frame is not None:
        code = frame.f_code
        name = getattr(code, "co_qualname", code.co_name)
        print(f"frame {native_id} {id(code)} {frame.f_lasti} {frame.f_lineno} {name} {code.co_filename}")
        frame = frame.f_back


def idle():
    time.sleep(3600)


def reporter():
    main = threading.main_thread()
    print(f"version {sys.version_info[0]}.{sys.version_info[1]}")
    print(f"thread {main.native_id} {main.ident}")
    report(main.ident, main.native_id, numbers.__code__)
    me = threading.current_thread()
    print(f"thread {me.native_id} {me.ident}")
    print(f"idle {me.native_id} {id(idle.__code__)}")
    print("ready", flush=True)
    idle()


threading.Thread(target=reporter, daemon=True).start()
Worker().run()
