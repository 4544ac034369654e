"""An Apache Kafka broker whose client listener speaks SASL_SSL (PLAIN over TLS), for the security tests.

A throwaway certificate (openssl, self-signed, SAN 127.0.0.1 + localhost) and two users,
`salespulse` and `admin`; the controller listener stays PLAINTEXT on loopback.
"""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

from pipeline.brokers.apache import ApacheKafkaBroker
from pipeline.errors import BrokerError

USER, PASSWORD = "salespulse", "sp-secret-4c1e"


def make_certificate(folder: Path) -> tuple[Path, Path]:
    """(cert.pem, server.pem = PKCS#8 key + certificate, Kafka's PEM keystore)."""
    key, cert = folder / "key.pem", folder / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60)
    keystore = folder / "server.pem"
    keystore.write_text(key.read_text() + cert.read_text())
    return cert, keystore


class SecureKafkaBroker(ApacheKafkaBroker):
    """`with SecureKafkaBroker(tmp) as b:` b.client_settings() -> kafka-python keyword arguments."""

    def __init__(self, folder: Path, **kwargs) -> None:
        super().__init__(**kwargs)
        self.folder = folder
        self.cafile, self.keystore = make_certificate(folder)

    def _write_config(self) -> Path:
        config = super()._write_config()
        text = config.read_text()
        text = re.sub(r"(?m)^(listeners|advertised\.listeners|inter\.broker\.listener\.name|"
                      r"listener\.security\.protocol\.map)=.*\n", "", text)
        jaas = ('org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" '
                f'password="admin-secret" user_admin="admin-secret" user_{USER}="{PASSWORD}";')
        text += "\n".join([
            "",
            f"listeners=SASL_SSL://{self.host}:{self.port},CONTROLLER://{self.host}:{self.controller_port}",
            f"advertised.listeners=SASL_SSL://{self.host}:{self.port}",
            "listener.security.protocol.map=CONTROLLER:PLAINTEXT,SASL_SSL:SASL_SSL",
            "inter.broker.listener.name=SASL_SSL",
            "sasl.enabled.mechanisms=PLAIN",
            "sasl.mechanism.inter.broker.protocol=PLAIN",
            f"listener.name.sasl_ssl.plain.sasl.jaas.config={jaas}",
            "ssl.keystore.type=PEM",
            f"ssl.keystore.location={self.keystore}",
            "ssl.truststore.type=PEM",   # Kafka checks at start-up that its own settings can connect
            f"ssl.truststore.location={self.cafile}",
            "",
        ])
        config.write_text(text)
        return config

    def client_settings(self, password: str = PASSWORD) -> dict:
        return {"security_protocol": "SASL_SSL", "sasl_mechanism": "PLAIN", "sasl_plain_username": USER,
                "sasl_plain_password": password, "ssl_cafile": str(self.cafile)}

    def worker_env(self) -> dict:
        return {"SALESPULSE_KAFKA__SECURITY_PROTOCOL": "SASL_SSL", "SALESPULSE_KAFKA__SASL_MECHANISM": "PLAIN",
                "SALESPULSE_KAFKA__SASL_USERNAME": USER, "SALESPULSE_KAFKA__SASL_PASSWORD": PASSWORD,
                "SALESPULSE_KAFKA__SSL_CAFILE": str(self.cafile)}

    def _wait_metadata(self, deadline: float) -> None:
        from kafka import KafkaAdminClient

        last: Exception | None = None
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise BrokerError(f"kafka exited with code {self._proc.returncode}\n{self.log_tail()}")
            try:
                admin = KafkaAdminClient(bootstrap_servers=self.bootstrap, request_timeout_ms=5000,
                                         client_id="salespulse-readiness", **self.client_settings())
                try:
                    admin.list_topics()
                    return
                finally:
                    admin.close()
            except Exception as exc:  # not ready yet
                last = exc
                time.sleep(0.25)
        raise BrokerError(f"secure kafka answered no metadata request (last error: {last})\n{self.log_tail()}")
