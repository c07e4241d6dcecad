"""What the HTTP API stand-ins share: serving on a free loopback port, announced in a file."""
import http.server
import os


def serve(handler, port_file):
    """Serves `handler` on 127.0.0.1 at a free port; writes the port to `port_file` (atomically:
    the test waits for the file) once listening, then serves until killed."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    tmp = port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(server.server_address[1]))
    os.rename(tmp, port_file)
    server.serve_forever()
