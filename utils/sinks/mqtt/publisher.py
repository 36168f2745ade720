"""One MQTT connection on paho's own network thread; publishing never blocks the classification loop."""

from __future__ import annotations

import logging
import socket
import ssl
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import paho.mqtt.client as mqtt

from utils.broker_url import BrokerAddress
from utils.errors import ClassifierError
from utils.regular_file import NotAFileError, open_regular
from utils.sinks.mqtt.topics import OFFLINE, ONLINE, Topics, slug

log = logging.getLogger(__name__)

MAX_QUEUED = 1000       # QoS 1 messages (events) kept while the broker is away; state messages are not queued
KEEPALIVE = 30          # seconds; the broker publishes the last will after 1.5x this without a word
RETRY_DELAYS = (1, 30)  # seconds: reconnect back-off, doubling from the first to the second
REQUIRED_WAIT = 10.0    # seconds --mqtt-required waits for the broker at start
CLOSE_WAIT = 5.0        # seconds close() waits for queued events to reach the broker, connecting included
LEFTOVERS_WAIT = 3.0    # seconds a connect waits for the broker's leftovers of earlier runs before going online

Payload = str | bytes
Retained = Callable[[], list[tuple[str, Payload]]]  # the current state, (re)published on every connect


def tls_context(ca_file: Path | None) -> ssl.SSLContext:
    """What paho's tls_set() builds (TLS client, certificate and host name checked), from --mqtt-ca or, without
    it, the system's CA store; a CA file that is missing or not a certificate is one ClassifierError line."""
    if ca_file is None:
        return ssl.create_default_context()
    try:
        with open_regular(ca_file):  # a FIFO would block OpenSSL's own open
            pass
        return ssl.create_default_context(cafile=str(ca_file))
    except FileNotFoundError as e:
        raise ClassifierError(f"--mqtt-ca: file not found: {ca_file}") from e
    except (IsADirectoryError, NotAFileError) as e:
        raise ClassifierError(f"--mqtt-ca {ca_file} {e.strerror}; give the CA certificate's .pem/.crt file") from e
    except ssl.SSLError as e:  # (an OSError too)
        raise ClassifierError(f"--mqtt-ca {ca_file} is not a PEM certificate ({e.reason or e}); give the broker's "
                              "CA certificate") from e
    except OSError as e:
        raise ClassifierError(f"--mqtt-ca: cannot read {ca_file}: {e.strerror or e}") from e


class MqttPublisher:
    """Connects in the background, retries with back-off, and says once per outage what went wrong.

    Availability is `online` while connected and `offline` after close() or, through the last will, after a
    crash. On every (re)connect `retained()` (discovery, latest state, event states) is published *before*
    `online`: after a crash the broker still holds the last run's states (an event ON, its label), and a
    subscriber must never see them on an available device. That also makes a restarted broker without
    persistence whole again. With `owned` topic filters, a connect first collects what the broker retains
    there and deletes what this run does not publish (an action an earlier run watched, left ON by a crash).

    Two kinds of messages: states (publish_state: retained, QoS 0, sent only while connected, since the next
    connect sends the current ones; a queued old state would land after them and undo them) and events
    (publish with QoS 1: they wait in paho's queue, at most MAX_QUEUED, while the broker is away).
    """

    def __init__(self, address: BrokerAddress, topics: Topics, retained: Retained, password: str | None = None,
                 ca_file: Path | None = None, close_wait: float = CLOSE_WAIT, owned: tuple[str, ...] = ()) -> None:
        self.address = address
        self._close_wait = close_wait
        self.topics = topics
        self._retained = retained
        # Topic filters of retained topics only this camera publishes: what an earlier run left there that this
        # run does not publish (an action no longer watched, its ON after a crash) is removed on connect.
        self._owned = owned
        self._leftovers: set[str] = set()
        self._sync: str | None = None  # the marker this connect waits for; None once it went online
        self._stop = threading.Event()
        self._first_answer = threading.Event()  # connected, or failed for good
        self._failure: str | None = None  # why MQTT is off for good (refused, TLS)
        self._problem: str | None = None  # why the broker cannot be reached right now
        self._connected = False
        self._outage_logged = False
        self._waiting = False
        self._pending: set[int] = set()  # message ids of QoS 1 messages the broker has not acknowledged yet
        self._lock = threading.Lock()
        # Held while a connect publishes the current state and while a state is published: a state changed
        # meanwhile is either in the connect's snapshot or published after it, never lost nor before "online".
        self._state_lock = threading.Lock()
        self._client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=slug(f"{topics.prefix}-{topics.name}"),
                                   protocol=mqtt.MQTTv311, clean_session=True)
        if address.username or password:
            self._client.username_pw_set(address.username, password)
        if address.tls:
            self._client.tls_set_context(tls_context(ca_file))
        self._client.will_set(topics.availability, OFFLINE, qos=1, retain=True)
        self._client.max_queued_messages_set(MAX_QUEUED)
        self._client.reconnect_delay_set(*RETRY_DELAYS)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_publish = self._on_publish
        self._client.on_message = self._on_message
        self._connector = threading.Thread(target=self._connect_until_up, name="mqtt-connect", daemon=True)

    @property
    def connected(self) -> bool:
        return self._connected

    def start(self, required: bool = False) -> None:
        """Starts connecting; with `required`, waits for the broker and raises ClassifierError if it is not there."""
        self._waiting = required  # the error line will say why: no warning first
        self._connector.start()
        if required:
            self._first_answer.wait(REQUIRED_WAIT)
            self._waiting = False
            if not self._connected:
                self.close()
                why = self._failure or self._problem or f"no answer within {REQUIRED_WAIT:g} s"
                raise ClassifierError(f"--mqtt-required: cannot use the MQTT broker {self.address}: {why}")

    # Publishing: called on the main thread; paho writes on its own thread.

    def publish(self, topic: str, payload: Payload, qos: int = 0, retain: bool = False) -> None:
        """An event (QoS 1: kept while the broker is away) or any message that needs no ordering."""
        info = self._client.publish(topic, payload, qos=qos, retain=retain)
        if info.rc == mqtt.MQTT_ERR_QUEUE_SIZE:
            log.warning("MQTT: %d messages already wait for the broker; dropped one for %s", MAX_QUEUED, topic)
        elif qos and info.rc in (mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_NO_CONN):  # NO_CONN: queued for later
            with self._lock:
                self._pending.add(info.mid)

    def publish_state(self, topic: str, payload: Payload) -> None:
        """A retained state (the caller keeps it for `retained()`): sent now if connected, else at the connect."""
        with self._state_lock:
            if self._connected:
                self.publish(topic, payload, qos=0, retain=True)

    def _on_publish(self, client, userdata, mid, reason_code, properties) -> None:
        with self._lock:
            self._pending.discard(mid)

    @property
    def pending(self) -> int:
        """QoS 1 messages not yet acknowledged by the broker."""
        with self._lock:
            return len(self._pending)

    # Connection management, on the connector thread and paho's network thread.

    def _connect_until_up(self) -> None:
        delay = RETRY_DELAYS[0]
        while not self._stop.is_set():
            try:
                self._client.connect(self.address.host, self.address.port, KEEPALIVE)
            except socket.gaierror as e:
                self._outage(f"cannot find the host {self.address.host!r} ({e.strerror or e})")
            except (ssl.SSLError, ssl.CertificateError) as e:
                self._give_up(f"TLS failure with {self.address}: {getattr(e, 'reason', None) or e} "
                              "(check mqtts://, the port and --mqtt-ca)")
                return
            except OSError as e:
                self._outage(f"cannot reach {self.address} ({e.strerror or e})")
            else:
                if self._stop.is_set():  # close() came while connecting
                    self._client.disconnect()
                else:
                    self._client.loop_start()  # from here paho reconnects by itself
                return
            self._stop.wait(delay)
            delay = min(delay * 2, RETRY_DELAYS[1])

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            self._give_up(f"the broker {self.address} refused the connection: {reason_code} "
                          "(check the user name in --mqtt and MQTT_PASSWORD)")
            client.disconnect()
            return
        log.info("MQTT: %s %s as %s", "connected again to" if self._outage_logged else "connected to",
                 self.address, self.topics.base)
        self._outage_logged = False
        if not self._owned:
            self._go_online()
            return
        # The broker sends the retained messages of a subscription while it handles the SUBSCRIBE, so the
        # marker published after it comes back after all of them (one connection keeps the order).
        with self._state_lock:
            self._leftovers.clear()
            self._sync = sync = f"{self.topics.base}/sync/{uuid.uuid4().hex}"
        client.subscribe([(topic, 0) for topic in (*self._owned, sync)])
        client.publish(sync, "", qos=0)
        timer = threading.Timer(LEFTOVERS_WAIT, self._go_online, (sync,))  # a broker that denies the subscription
        timer.daemon = True
        timer.start()

    def _on_message(self, client, userdata, message) -> None:
        if message.topic == self._sync:
            self._go_online(message.topic)
        elif message.retain and message.payload:
            with self._state_lock:
                self._leftovers.add(message.topic)

    def _go_online(self, sync: str | None = None) -> None:
        """Removes the leftovers, publishes the current state, then `online` (once per connect)."""
        with self._state_lock:
            if sync != self._sync:  # the marker came before the timer, or a newer connect is under way
                return
            self._sync = None
            current = self._retained()
            if sync is not None:  # (only a connect that subscribed waits for a marker)
                self._client.unsubscribe([*self._owned, sync])
                published = {topic for topic, _ in current}
                for topic in sorted(self._leftovers - published):
                    self.publish(topic, b"", qos=0, retain=True)  # an empty retained message deletes it
            # QoS 0 like every state: one TCP connection keeps the order, and a reconnect drops unsent QoS 0
            # messages (paho's reconnect()), so none of these can arrive after a newer state.
            for topic, payload in current:
                self.publish(topic, payload, qos=0, retain=True)
            self.publish(self.topics.availability, ONLINE, qos=0, retain=True)
            self._connected = True
        self._first_answer.set()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        with self._state_lock:
            self._connected = False
            self._sync = None  # a connect lost while it waited for its marker never goes online
        if not self._stop.is_set() and self._failure is None:
            self._outage(f"lost the broker {self.address} ({reason_code})")

    def _outage(self, why: str) -> None:
        self._problem = why
        if not self._outage_logged and not self._waiting:
            self._outage_logged = True
            log.warning("MQTT: %s; retrying in the background, events are kept until it is back", why)

    def _give_up(self, why: str) -> None:
        self._failure = why
        if not self._waiting:
            log.error("MQTT: %s; MQTT is off, classifying goes on", why)
        self._first_answer.set()

    def close(self) -> None:
        """Delivers what waits for the broker (for at most `close_wait` seconds, a connection still being made
        included), says `offline` and disconnects; a warning counts what did not arrive. Safe to call twice."""
        if self._stop.is_set():
            return
        # A short run can end before a slow broker has even answered: its events still wait in paho's queue.
        deadline = time.monotonic() + self._close_wait
        while self.pending and self._failure is None and time.monotonic() < deadline:
            time.sleep(0.02)
        self._stop.set()
        with self._lock:
            waiting = set(self._pending)  # the run's own messages, not the "offline" below
        if self._connected:
            self.publish(self.topics.availability, OFFLINE, qos=1, retain=True)
            deadline = time.monotonic() + self._close_wait
            while self.pending and self._connected and time.monotonic() < deadline:
                time.sleep(0.02)
        with self._lock:
            undelivered = len(self._pending & waiting)
        self._client.disconnect()
        self._client.loop_stop()
        if self._connector.is_alive():
            self._connector.join(1.0)
        if undelivered and self._failure is None:  # after a failure for good, the log has said MQTT is off
            log.warning("MQTT: %d message%s (events, event and camera states) did not reach the broker %s within "
                        "%g s of the end", undelivered, "" if undelivered == 1 else "s", self.address, self._close_wait)
