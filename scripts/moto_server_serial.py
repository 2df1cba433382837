"""moto's server, handling one request at a time: `python moto_server_serial.py HOST PORT`.

moto's DynamoDB TransactWriteItems deep-copies shared table state without a lock, so concurrent
transactions crash the stock threaded server ("dictionary changed size during iteration").
Real DynamoDB has no such limit. Serialising requests keeps the emulator's answers correct while
CareFlow's handlers still run concurrently against it.
"""

import os
import signal
import sys
import threading

from werkzeug.serving import run_simple

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from moto.server import MotoRequestHandler


def main() -> None:
    host, port = sys.argv[1], int(sys.argv[2])
    os.environ.setdefault("MOTO_PORT", str(port))
    app = DomainDispatcherApplication(create_backend_app)
    lock = threading.Lock()

    def serial(environ, start_response):
        with lock:
            # Materialise the body inside the lock: the app's state is read while iterating.
            return list(app(environ, start_response))

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    run_simple(host, port, serial, threaded=True, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()
