"""Apache Kafka as the apache/kafka image runs it, from its environment.

``serve``: every ``KAFKA_*`` variable (but the JVM's) becomes a broker property the way the
official image converts them (``KAFKA_LOG_DIRS`` is ``log.dirs``, ``__`` an underscore,
``___`` a dash); a new volume is formatted with ``CLUSTER_ID``; then the broker runs in
the foreground. ``ready``: the broker answers an ApiVersions request on localhost:9092,
which is what the official image's ``kafka-broker-api-versions.sh`` health check asks.
"""

from __future__ import annotations

import glob
import os
import shlex
import socket
import struct
import subprocess
import sys
from pathlib import Path

CONFIG = Path("/tmp/kafka")
NOT_PROPERTIES = {"KAFKA_HEAP_OPTS", "KAFKA_OPTS", "KAFKA_JVM_PERFORMANCE_OPTS"}
LOG4J2 = """\
status = warn
appender.out.type = Console
appender.out.name = out
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = info
rootLogger.appenderRef.out.ref = out
"""
API_VERSIONS = 18


def property_name(variable: str) -> str:
    name = variable.removeprefix("KAFKA_").lower()
    return name.replace("___", "-").replace("__", "\0").replace("_", ".").replace("\0", "_")


def serve() -> None:
    properties = {
        property_name(name): value
        for name, value in os.environ.items()
        if name.startswith("KAFKA_") and name not in NOT_PROPERTIES
    }
    CONFIG.mkdir(exist_ok=True)
    server = CONFIG / "server.properties"
    server.write_text("".join(f"{key}={value}\n" for key, value in properties.items()))
    (CONFIG / "log4j2.properties").write_text(LOG4J2)
    java = [
        "java",
        *shlex.split(os.environ.get("KAFKA_HEAP_OPTS", "-Xmx512m")),
        f"-Dlog4j2.configurationFile={CONFIG / 'log4j2.properties'}",
        "-cp",
        ":".join(sorted(glob.glob("/opt/kafka/libs/*.jar"))),
    ]
    if not Path(properties["log.dirs"], "meta.properties").exists():
        subprocess.run(
            [
                *java,
                "kafka.tools.StorageTool",
                "format",
                "--config",
                str(server),
                "--cluster-id",
                os.environ["CLUSTER_ID"],
            ],
            check=True,
        )
    os.execvp(java[0], [*java, "kafka.Kafka", str(server)])


def ready(host: str = "localhost", port: int = 9092) -> bool:
    """An ApiVersions (v0) request on a new connection answered with no error."""
    client = b"healthcheck"
    header = struct.pack(">hhih", API_VERSIONS, 0, 1, len(client)) + client
    with socket.create_connection((host, port), timeout=5) as connection:
        connection.sendall(struct.pack(">i", len(header)) + header)
        size = struct.unpack(">i", _read(connection, 4))[0]
        correlation, error = struct.unpack(">ih", _read(connection, size)[:6])
    return correlation == 1 and error == 0


def _read(connection: socket.socket, count: int) -> bytes:
    data = b""
    while len(data) < count:
        chunk = connection.recv(count - len(data))
        if not chunk:
            raise ConnectionError("the broker closed the connection")
        data += chunk
    return data


if __name__ == "__main__":
    if sys.argv[1:] == ["serve"]:
        serve()
    elif sys.argv[1:] == ["ready"]:
        sys.exit(0 if ready() else 1)
    else:
        sys.exit("usage: kafka.py serve|ready")
