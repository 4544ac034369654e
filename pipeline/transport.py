"""faust's aiokafka transport with a configurable consumer fetch wait.

faust hard-codes fetch_max_wait_ms=1500 in its aiokafka driver. On a broker that does
not answer a fetch early when data arrives (Tansu) that wait is pure latency. On Apache
Kafka, which does answer early, a long wait still costs latency: aiokafka keeps one fetch
in flight per broker and leaves out partitions whose records are still being processed, so
new data on those waits for the in-flight fetch of the others (measured: fetch wait 500 ms
-> incident-to-page p50 1.2 s at 200/s, against 0.1-0.3 s at 10 ms). We subclass the driver's consumer
thread (faust builds it through `Consumer._new_consumer_thread`) instead of patching it.
"""

from __future__ import annotations

from faust.transport.drivers import aiokafka as driver


class ConsumerThread(driver.AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport):
        consumer = super()._create_worker_consumer(transport)
        wait = getattr(self.app.conf, "salespulse_fetch_max_wait_ms", None)
        if wait is not None:
            consumer._fetch_max_wait_ms = int(wait)  # read by the fetcher created in start()
        return consumer


class Consumer(driver.Consumer):
    def _new_consumer_thread(self) -> ConsumerThread:
        return ConsumerThread(self, loop=self.loop, beacon=self.beacon)


class Transport(driver.Transport):
    Consumer = Consumer
