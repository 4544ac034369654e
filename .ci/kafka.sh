#!/usr/bin/env bash
# A single-node Apache Kafka 4.x broker on loopback for CI (jars from Maven Central via kafka/pom.xml).
#
#   .ci/kafka.sh start PIDFILE [PORT]   fetch kafka/libs if needed, start, wait until a metadata
#                                       request succeeds; the LAST stdout line is host:port.
#                                       The broker keeps running after this script exits.
#   .ci/kafka.sh stop PIDFILE           SIGTERM (SIGKILL after 30 s) the broker's process group,
#                                       remove its data dir and the pidfile; no process is left.
#
# PYTHON (default: python3) must have kafka-python and this repo importable; SALESPULSE_KAFKA_HOME
# points at another folder holding pom.xml, server.properties and log4j2.properties.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}

case "${1:-}" in
  start)
    [[ -n "${2:-}" ]] || { echo "usage: $0 start PIDFILE [PORT]" >&2; exit 2; }
    exec "$PY" -m pipeline.brokers.apache start --pidfile "$2" ${3:+--port "$3"}
    ;;
  stop)
    [[ -n "${2:-}" ]] || { echo "usage: $0 stop PIDFILE" >&2; exit 2; }
    exec "$PY" -m pipeline.brokers.apache stop --pidfile "$2"
    ;;
  *)
    sed -n '2,12p' "$0" >&2
    exit 2
    ;;
esac
