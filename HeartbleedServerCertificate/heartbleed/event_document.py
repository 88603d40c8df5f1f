"""The event document AWS Config sends, checked before rdklib reads it.

rdklib parses the event without checking it: a field of the wrong type or a
string that is not JSON ends in an unexplained traceback. This module checks
the shape Config documents and says, in one sentence, what is wrong.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from .parameters import shown

MESSAGE_TYPES = (
    "ConfigurationItemChangeNotification",
    "OversizedConfigurationItemChangeNotification",
    "ScheduledNotification",
)
REQUIRED_STRINGS = ("invokingEvent", "resultToken", "configRuleName", "executionRoleArn")
OPTIONAL_STRINGS = ("ruleParameters", "version", "configRuleArn", "configRuleId", "accountId")


class EventError(ValueError):
    """The event is not a document AWS Config sends to a custom rule."""


def _json_object(name: str, text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError:
        raise EventError(f"{name} {shown(text)} is not JSON: Config sends a JSON object as a string") from None
    if not isinstance(value, dict):
        raise EventError(f"{name} is JSON {type(value).__name__}, not an object")
    return value


def check_event(event: object) -> tuple[dict[str, Any], dict[str, Any]]:
    """Return (invokingEvent, ruleParameters) parsed, or raise EventError naming what is wrong."""
    if not isinstance(event, Mapping):
        raise EventError(f"the event is a {type(event).__name__}, not a JSON object")
    for name in REQUIRED_STRINGS:
        value = event.get(name)
        if not isinstance(value, str) or not value.strip():
            raise EventError(f"{name} is {shown(value)}: a non-empty string is required")
    for name in OPTIONAL_STRINGS:
        if name in event and not isinstance(event[name], str):
            raise EventError(f"{name} is {shown(event[name])}: a string is required")
    if not isinstance(event.get("eventLeftScope"), bool):
        raise EventError(f"eventLeftScope is {shown(event.get('eventLeftScope'))}: true or false is required")
    invoking = _json_object("invokingEvent", event["invokingEvent"])
    message_type = invoking.get("messageType")
    if message_type not in MESSAGE_TYPES:
        raise EventError(f"messageType {shown(message_type)} is not one of {', '.join(MESSAGE_TYPES)}")
    if message_type == "ScheduledNotification" and not isinstance(invoking.get("notificationCreationTime"), str):
        raise EventError("a ScheduledNotification needs notificationCreationTime (a string)")
    if message_type == "ConfigurationItemChangeNotification":
        item = invoking.get("configurationItem")
        if not isinstance(item, dict):
            raise EventError("a ConfigurationItemChangeNotification needs a configurationItem object")
        for key in ("configurationItemStatus", "resourceType", "configurationItemCaptureTime"):
            if not isinstance(item.get(key), str):
                raise EventError(f"configurationItem.{key} is {shown(item.get(key))}: a string is required")
    if message_type == "OversizedConfigurationItemChangeNotification":
        summary = invoking.get("configurationItemSummary")
        needed = ("resourceType", "resourceId")
        if not isinstance(summary, dict) or not all(isinstance(summary.get(key), str) for key in needed):
            raise EventError(f"an {message_type} needs configurationItemSummary with resourceType and resourceId")
        for key in ("notificationCreationTime", "recordVersion"):
            if not isinstance(invoking.get(key), str):
                raise EventError(f"an {message_type} needs {key} (a string)")
    parameters = _json_object("ruleParameters", event.get("ruleParameters") or "{}")
    return invoking, parameters
