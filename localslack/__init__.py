"""A local stand-in for Slack's servers: the demo and the end-to-end tests talk to it."""

from localslack.delivery import DeliveryResult
from localslack.server import LocalSlack
from localslack.signing import sign_request
from localslack.state import (
    DEFAULT_CHANNELS,
    DEFAULT_USERS,
    Channel,
    Ephemeral,
    Message,
    RecordedCall,
    UploadedFile,
    User,
    View,
)

__all__ = [
    "DEFAULT_CHANNELS",
    "DEFAULT_USERS",
    "Channel",
    "DeliveryResult",
    "Ephemeral",
    "LocalSlack",
    "Message",
    "RecordedCall",
    "UploadedFile",
    "User",
    "View",
    "sign_request",
]
