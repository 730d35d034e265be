"""An offline Amazon Chime account-API emulator speaking the real rest-json wire format.

moto has no Chime backend, so this is how the bot runs offline and how tests drive real boto3
over HTTP. Point boto3 at it with ``AWS_ENDPOINT_URL_CHIME`` or ``endpoint_url=``.
"""

from .controls import OPERATIONS, Call, Fault
from .emulator import ChimeEmulator
from .errors import ERRORS
from .state import SignOut

__all__ = ["ERRORS", "OPERATIONS", "Call", "ChimeEmulator", "Fault", "SignOut"]
