"""One error hierarchy for SalesPulse: leaves say what went wrong and whether a retry helps."""


class SalesPulseError(Exception):
    """Root of every error SalesPulse raises on purpose."""


class ConfigError(SalesPulseError):
    """A configuration file or setting is invalid; the process refuses to start."""


class UserInputError(SalesPulseError):
    """A user mistake at the CLI or API: shown as one line, never a traceback."""


class BrokerError(SalesPulseError):
    """A broker could not be started, reached or stopped."""


class DeliveryError(SalesPulseError):
    """A notification could not be delivered."""


class TransientDeliveryError(DeliveryError):
    """Delivery failed in a way a retry may fix (timeout, 5xx, connection refused)."""


class PermanentDeliveryError(DeliveryError):
    """Delivery failed in a way a retry will not fix (4xx, bad address)."""
