"""Run a real single-node Apache Kafka broker (KRaft, no ZooKeeper) from Maven-resolved jars.

Local runs and integration tests need a genuine broker, and this machine has Java and Maven but
no containers: the jars pinned in ``pom.xml`` are resolved once into ``var/cache`` and the broker
(combined controller + broker) is started with the local ``java``, listening on 127.0.0.1 only.

Run ``python -m infra.kafka.embedded`` to keep one in the foreground (e.g. from a Procfile).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import ctypes
import fcntl
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import FrameType, TracebackType
from typing import IO, Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import KafkaError, TopicAlreadyExistsError, for_code

from infra.ports import free_ports
from shared.config import TopicSettings
from shared.kafka.topics import ALL_TOPICS, TopicSpec, topic_specs

log = logging.getLogger(__name__)

POM = Path(__file__).resolve().with_name("pom.xml")
REPO_ROOT = POM.parents[2]
CACHE_ROOT = REPO_ROOT / "var" / "cache"

JVM_OPTIONS = ("-Xms128m", "-Xmx512m", "-XX:+ExitOnOutOfMemoryError", "-Djava.awt.headless=true")
"""A small heap is plenty for a test broker and keeps parallel test runs from starving the box."""

STOP_TIMEOUT = 30.0
"""Seconds a broker gets to shut down cleanly after SIGTERM before it is killed."""

TOPICS_READY_TIMEOUT = 30.0
"""Seconds new topics get to have a leader on every partition."""

# Kafka's own log4j2 setup expects the distribution layout; this sends everything to stdout,
# which the broker process writes to ``broker.log`` in its data dir. Log4j's shutdown hook is
# off so it keeps logging until Kafka's own hook has finished shutting the broker down.
LOG4J2_PROPERTIES = """\
status = warn
shutdownHook = disable
appender.out.type = Console
appender.out.name = out
appender.out.target = SYSTEM_OUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = info
rootLogger.appenderRef.out.ref = out
"""


class KafkaStartError(RuntimeError):
    """The broker could not be started or did not become ready."""


def kafka_version() -> str:
    """The Kafka version pinned in ``pom.xml``: the one place to bump it."""
    ns = {"m": "http://maven.apache.org/POM/4.0.0"}
    version = ET.parse(POM).getroot().findtext("m:properties/m:kafka.version", namespaces=ns)
    if not version:
        raise KafkaStartError(f"no <kafka.version> property in {POM}")
    return version.strip()


def resolve_classpath() -> str:
    """The broker's classpath, resolving the jars with Maven only the first time.

    Jars land in ``var/cache/kafka-<version>/``. Maven writes into a temporary directory that is
    renamed into place once complete, under a file lock, so an interrupted download never leaves
    a half-filled cache and parallel test processes neither corrupt it nor resolve it twice.
    """
    cache = CACHE_ROOT / f"kafka-{kafka_version()}"
    if not cache.is_dir():
        CACHE_ROOT.mkdir(parents=True, exist_ok=True)
        with open(CACHE_ROOT / f"{cache.name}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not cache.is_dir():
                _download_jars(cache)
    jars = sorted(cache.glob("*.jar"))
    if not jars:
        raise KafkaStartError(f"{cache} holds no jars; delete it to resolve them again")
    return os.pathsep.join(str(jar) for jar in jars)


def _download_jars(cache: Path) -> None:
    """Copy the pom's runtime dependencies into ``cache`` via a temporary sibling directory."""
    mvn = shutil.which("mvn")
    if mvn is None:
        raise KafkaStartError("Maven ('mvn') is not on PATH; it is needed once to fetch Kafka")
    log.info("Resolving Kafka %s jars with Maven into %s (first run only)", kafka_version(), cache)
    staging = tempfile.mkdtemp(prefix=f".{cache.name}-", dir=cache.parent)
    try:
        result = subprocess.run(
            [
                mvn,
                "-q",
                "-B",
                "-f",
                str(POM),
                "dependency:copy-dependencies",
                f"-DoutputDirectory={staging}",
            ],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise KafkaStartError(
                f"Maven could not resolve Kafka (exit {result.returncode}):\n"
                + _tail(result.stdout + result.stderr)
            )
        os.rename(staging, cache)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _java() -> str:
    """The ``java`` of ``JAVA_HOME`` if set, else the one on PATH (Kafka needs 17+)."""
    java_home = os.environ.get("JAVA_HOME")
    java = str(Path(java_home, "bin", "java")) if java_home else shutil.which("java")
    if not java or not Path(java).is_file():
        raise KafkaStartError("no 'java' found (set JAVA_HOME or put Java 17+ on PATH)")
    return java


def _new_cluster_id() -> str:
    """A random Kafka cluster id (base64url UUID); never starting with '-', which the CLI would
    take for an option."""
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id


_TIMESTAMP = re.compile(r"^\[[^\]]*\] ")
"""The ``[date time] `` that starts each line of the broker log."""


def _tail(text: str, lines: int = 60) -> str:
    return "\n".join(text.splitlines()[-lines:])


_PR_SET_PDEATHSIG = 1
"""prctl(2): the signal a process gets when the thread that started it dies (Linux)."""


def _stop_with_parent() -> None:
    """In the broker's child process: SIGTERM it when its launcher dies, even by SIGKILL, so a
    supervisor's restart never meets an orphaned broker holding the port and the data dir."""
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


class EmbeddedKafka:
    """One Kafka process acting as both KRaft controller and broker, with its state in
    ``data_dir``; ``settings`` adds to or overrides the broker's own (a test shortens
    ``log.retention.check.interval.ms`` to see retention act within seconds).

    The storage is formatted on the first start only, so a data dir can be reused across runs
    (``python -m infra.kafka.embedded``) or thrown away (tests). The controller quorum is
    declared statically in the config rather than written into the storage at format time, so
    the ports may change from one start to the next. ``broker.log`` is rewritten on each start.
    With ``stop_with_parent`` the broker is stopped when the process that started it dies.
    """

    def __init__(
        self,
        data_dir: Path,
        port: int = 0,
        controller_port: int = 0,
        stop_with_parent: bool = False,
        settings: Mapping[str, object] | None = None,
    ) -> None:
        picked = iter(free_ports(2))
        self._stops_with_parent = stop_with_parent
        self._settings = dict(settings or {})
        self.data_dir = Path(data_dir).resolve()
        self.port = port or next(picked)
        self.controller_port = controller_port or next(picked)
        self.log_path = self.data_dir / "broker.log"
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        """What clients pass as ``bootstrap_servers``."""
        return f"127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        """The broker's process id (for measuring what it costs)."""
        return self._require_process().pid

    def start(self) -> None:
        """Format the storage if needed and launch the broker; returns before it is ready."""
        if self._process is not None:
            raise KafkaStartError(f"the broker at {self.bootstrap} is already started")
        classpath = resolve_classpath()
        java = _java()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        config = self.data_dir / "server.properties"
        config.write_text(self._server_properties())
        log4j = self.data_dir / "log4j2.properties"
        log4j.write_text(LOG4J2_PROPERTIES)
        command = [java, *JVM_OPTIONS, f"-Dlog4j2.configurationFile={log4j}", "-cp", classpath]
        self._log = open(self.log_path, "wb")  # closed by stop()
        try:
            if not (self.data_dir / "kraft" / "meta.properties").exists():
                formatted = subprocess.run(
                    [
                        *command,
                        "kafka.tools.StorageTool",
                        "format",
                        "--config",
                        str(config),
                        "--cluster-id",
                        _new_cluster_id(),
                    ],
                    stdin=subprocess.DEVNULL,
                    stdout=self._log,
                    stderr=subprocess.STDOUT,
                    check=False,
                )
                if formatted.returncode != 0:
                    raise self._failure(
                        f"formatting the storage failed (exit {formatted.returncode})"
                    )
            # Its own session: a Ctrl-C in the terminal reaches only Python, which then stops
            # the broker in order instead of both dying at once.
            self._process = subprocess.Popen(
                [*command, "kafka.Kafka", str(config)],
                stdin=subprocess.DEVNULL,
                stdout=self._log,
                stderr=subprocess.STDOUT,
                cwd=self.data_dir,
                start_new_session=True,
                preexec_fn=_stop_with_parent if self._stops_with_parent else None,
            )
        except BaseException:
            self._log.close()
            self._log = None
            raise

    def wait_ready(self, timeout: float = 120.0) -> None:
        """Block until a real aiokafka client gets metadata listing this broker.

        An open port is not enough: the broker must also have joined its KRaft quorum and been
        unfenced. Raises ``KafkaStartError`` quoting the broker log if the process dies or
        ``timeout`` seconds pass. Call it from synchronous code (it runs its own event loop).
        """
        process = self._require_process()
        deadline = time.monotonic() + timeout
        while True:
            code = process.poll()
            if code is not None:
                raise self._failure(f"the broker exited with code {code} before it was ready")
            if self._accepts_connections() and asyncio.run(_lists_a_broker(self.bootstrap)):
                return
            if time.monotonic() >= deadline:
                raise self._failure(f"the broker was not ready after {timeout:g}s")
            time.sleep(0.2)

    def wait(self) -> int:
        """Block until the broker process exits on its own; returns its exit code."""
        return self._require_process().wait()

    def stop(self) -> None:
        """SIGTERM for a clean shutdown, SIGKILL if it hangs. Safe to call any number of times."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                log.warning(
                    "Kafka at %s ignored SIGTERM for %gs; killing it", self.bootstrap, STOP_TIMEOUT
                )
                process.kill()
                process.wait()
        if self._log is not None:
            self._log.close()
            self._log = None

    def log_summary(self, tail: int = 30) -> str:
        """The broker log's errors and their causes, then its last lines, for error messages.

        The errors are listed apart because a dying broker logs hundreds of shutdown lines after
        the one that says why.
        """
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except FileNotFoundError:
            return f"{self.log_path} does not exist"
        errors = dict.fromkeys(  # timestamps dropped, so repeated causes show once
            _TIMESTAMP.sub("", line)
            for line in lines
            if "] ERROR " in line or "] FATAL " in line or line.startswith("Caused by: ")
        )
        summary = f"Last lines of {self.log_path}:\n" + "\n".join(lines[-tail:])
        if errors:
            summary = (
                f"Errors in {self.log_path}:\n" + "\n".join(list(errors)[:20]) + "\n" + summary
            )
        return summary

    def __enter__(self) -> EmbeddedKafka:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def _server_properties(self) -> str:
        listeners = (
            f"PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self.controller_port}"
        )
        settings: dict[str, Any] = {
            "process.roles": "broker,controller",
            "node.id": 1,
            "controller.quorum.voters": f"1@127.0.0.1:{self.controller_port}",
            "controller.listener.names": "CONTROLLER",
            "listeners": listeners,
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{self.port}",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "log.dirs": self.data_dir / "kraft",
            # Rapport creates its topics explicitly (create_topics) with their partition counts.
            "auto.create.topics.enable": "false",
            "num.partitions": 6,
            # A single node can hold only one replica of anything.
            "default.replication.factor": 1,
            "offsets.topic.replication.factor": 1,
            "transaction.state.log.replication.factor": 1,
            "transaction.state.log.min.isr": 1,
            "share.coordinator.state.topic.replication.factor": 1,
            "share.coordinator.state.topic.min.isr": 1,
            # Tests join consumer groups constantly; the default 3 s delay only slows them down.
            "group.initial.rebalance.delay.ms": 0,
            **self._settings,
        }
        return "".join(f"{key}={value}\n" for key, value in settings.items())

    def _require_process(self) -> subprocess.Popen[bytes]:
        if self._process is None:
            raise KafkaStartError("the broker is not started")
        return self._process

    def _accepts_connections(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                return True
        except OSError:
            return False

    def _failure(self, reason: str) -> KafkaStartError:
        if self._log is not None:
            self._log.flush()
        return KafkaStartError(f"Kafka at {self.bootstrap}: {reason}.\n{self.log_summary()}")


async def _lists_a_broker(bootstrap: str) -> bool:
    """Whether the cluster's metadata, fetched with aiokafka, names at least one live broker."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=5000)
    try:
        await admin.start()
        cluster = await admin.describe_cluster()
    except (KafkaError, OSError):
        return False
    finally:
        await admin.close()
    return bool(cluster["brokers"])


async def create_topics(bootstrap: str, topics: Sequence[TopicSpec] = ALL_TOPICS) -> None:
    """Create every topic of ``topics`` that is missing, wait until all have leaders, and
    bring the settings of those that existed to what their spec says (a retention set or
    changed since they were created).

    Brokers here never auto-create topics, so this must run before services produce. A topic
    already as specified is not touched, so it is safe on every start.
    """
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [
            NewTopic(
                spec.name, spec.partitions, spec.replication_factor, topic_configs=dict(spec.config)
            )
            for spec in topics
            if spec.name not in existing
        ]
        if missing:
            response = await admin.create_topics(missing)
            for topic, code, message in response.topic_errors:
                if code == TopicAlreadyExistsError.errno:  # not listed yet, or just created
                    existing.add(topic)
                elif code != 0:
                    raise for_code(code)(f"cannot create topic {topic}: {message}")
        try:
            async with asyncio.timeout(TOPICS_READY_TIMEOUT):
                while True:
                    if await _all_topics_led(admin, topics):
                        break
                    await asyncio.sleep(0.1)
        except TimeoutError:
            raise TimeoutError(
                f"Rapport's topics on {bootstrap} still lack leaders "
                f"after {TOPICS_READY_TIMEOUT:g}s"
            ) from None
        # Once led, so that a topic created a moment ago by someone else is known.
        await _align_settings(admin, [spec for spec in topics if spec.name in existing])
    finally:
        await admin.close()


def _outdated(specs: Sequence[TopicSpec], described: Sequence[Any]) -> list[TopicSpec]:
    """The topics whose settings differ from their spec (``DescribeConfigs`` answers)."""
    current: dict[str, dict[str, str]] = {}
    for response in described:
        for code, message, _kind, name, entries, *_ in response.resources:
            if code:
                raise for_code(code)(f"cannot read the settings of topic {name}: {message}")
            current[name] = {entry[0]: entry[1] for entry in entries}
    return [
        spec
        for spec in specs
        if any(current.get(spec.name, {}).get(key) != value for key, value in spec.config)
    ]


async def _align_settings(admin: AIOKafkaAdminClient, specs: Sequence[TopicSpec]) -> None:
    """Give existing topics the settings their spec names. AlterConfigs replaces a topic's
    whole set, so the whole spec is sent (every setting Rapport's topics have is in it)."""
    if not specs:
        return
    described = await admin.describe_configs(
        [ConfigResource(ConfigResourceType.TOPIC, spec.name) for spec in specs]
    )
    outdated = _outdated(specs, described)
    if not outdated:
        return
    answers = await admin.alter_configs(
        [
            ConfigResource(ConfigResourceType.TOPIC, spec.name, dict(spec.config))
            for spec in outdated
        ]
    )
    for answer in answers:
        for code, message, _kind, name in answer.resources:
            if code:
                raise for_code(code)(f"cannot change the settings of topic {name}: {message}")
    log.info("topic settings brought up to date: %s", ", ".join(s.name for s in outdated))


async def _all_topics_led(admin: AIOKafkaAdminClient, topics: Sequence[TopicSpec]) -> bool:
    """Whether metadata shows every topic with a leader for each partition, i.e. usable."""
    described = await admin.describe_topics([spec.name for spec in topics])
    return all(
        topic["error_code"] == 0
        and topic["partitions"]
        and all(partition["leader"] >= 0 for partition in topic["partitions"])
        for topic in described
    )


def _interrupt(signum: int, frame: FrameType | None) -> None:
    """Turn SIGTERM (what supervisors send) into the same clean exit path as Ctrl-C."""
    raise KeyboardInterrupt


def _serve(data_dir: Path, port: int) -> int:
    external = os.environ.get("KAFKA_BOOTSTRAP")
    topics = topic_specs(TopicSettings().retention)
    if external:
        asyncio.run(create_topics(external, topics))
        print(f"Using the Kafka at {external} (KAFKA_BOOTSTRAP); no broker started", flush=True)
        while True:
            signal.pause()
    broker = EmbeddedKafka(data_dir, port=port, stop_with_parent=True)
    try:
        broker.start()
        broker.wait_ready(120)
        asyncio.run(create_topics(broker.bootstrap, topics))
        print(f"Kafka ready at {broker.bootstrap}", flush=True)
        code = broker.wait()
        print(f"Kafka exited on its own with code {code}.\n{broker.log_summary()}", file=sys.stderr)
        return 1
    finally:
        # A second Ctrl-C must not abandon the broker half-way through its shutdown.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        broker.stop()


def main(argv: Sequence[str] | None = None) -> int:
    """Keep a broker running in the foreground until SIGTERM/SIGINT, e.g. under supervisord."""
    parser = argparse.ArgumentParser(
        prog="python -m infra.kafka.embedded",
        description="Run a local single-node Kafka broker with Rapport's topics.",
    )
    parser.add_argument("--port", type=int, default=9092, help="client port on 127.0.0.1")
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=REPO_ROOT / "var" / "kafka",
        help="where the broker keeps its data and broker.log (default: var/kafka)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        return _serve(args.data_dir, args.port)
    except KeyboardInterrupt:
        return 0
    except (KafkaStartError, KafkaError, TimeoutError) as error:
        print(f"Kafka is not available: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
