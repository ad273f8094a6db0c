"""Custom actions on a rasa_sdk action server, called over its webhook.

The request and answer are rasa_sdk's (``POST /webhook``): the bot sends the action
name, the tracker state and the domain as Rasa writes them, and gets back events and
dispatcher messages. The server's failures are translated here: an unknown action
(HTTP 404) is :class:`~bot.errors.ActionNotFound`, ``ActionExecutionRejection``
(HTTP 400) is :class:`~bot.errors.ActionRejected`, and anything else (no answer,
timeout, HTTP 5xx, a malformed body) is :class:`ActionServerError`.
"""

from __future__ import annotations

import logging
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from actions.base import action_result_events
from bot.domain import Domain, SlotDef
from bot.errors import ActionNotFound, ActionRejected, ChannelError
from bot.events import Event
from bot.nlg import ResponseRenderer
from bot.tracker import Tracker

log = logging.getLogger(__name__)

# The Rasa version we speak; rasa_sdk only warns when major.minor differ from its own.
RASA_VERSION = "3.6.21"
DEFAULT_TIMEOUT = 30.0


class ActionServerError(ChannelError):
    """The action server could not run an action: unreachable, too slow, or it failed."""

    def __init__(self, action_name: str, url: str, reason: str) -> None:
        super().__init__(f"custom action {action_name!r} failed on the action server at {url}: {reason}")
        self.action_name = action_name
        self.url = url
        self.reason = reason


class ActionCall(BaseModel):
    """The body of ``POST /webhook``."""

    next_action: str
    sender_id: str
    tracker: dict[str, Any]
    domain: dict[str, Any]
    version: str = RASA_VERSION


class ActionServerAnswer(BaseModel):
    """A successful answer: events to apply and messages to send."""

    model_config = ConfigDict(extra="ignore")
    events: list[dict[str, Any]] = Field(default_factory=list)
    responses: list[dict[str, Any]] = Field(default_factory=list)


class ActionServerFailure(BaseModel):
    """An error answer (``{"action_name", "error"}``) for 400 and 404."""

    model_config = ConfigDict(extra="ignore")
    action_name: str | None = None
    error: str | None = None


# ---- the domain as Rasa serialises it ---------------------------------------------


def _slot_as_dict(slot: SlotDef) -> dict[str, Any]:
    out: dict[str, Any] = {
        "type": slot.type,
        "initial_value": slot.initial_value,
        "influence_conversation": slot.influence_conversation,
        "mappings": [
            {
                **m.model_dump(mode="json", exclude_none=True, exclude={"conditions"}),
                **({"conditions": [c.model_dump(mode="json") for c in m.conditions]} if m.conditions else {}),
            }
            for m in slot.mappings
        ],
    }
    if slot.type == "categorical":
        out["values"] = list(slot.values)
    if slot.type == "float":
        out["min_value"], out["max_value"] = slot.min_value, slot.max_value
    return out


def _variation_as_dict(variation: Any) -> dict[str, Any]:
    out = variation.model_dump(mode="json", exclude_none=True, exclude={"condition", "buttons"})
    if variation.buttons:
        out["buttons"] = [b.model_dump(mode="json") for b in variation.buttons]
    if variation.condition:
        out["condition"] = [c.model_dump(mode="json") for c in variation.condition]
    return out


def domain_as_rasa_dict(domain: Domain) -> dict[str, Any]:
    """The domain in the shape Rasa 3's ``Domain.as_dict()`` sends to action servers
    (what rasa_sdk's ``FormValidationAction`` reads: ``forms.<name>.required_slots``
    and ``slots.<name>.mappings``)."""
    intents: list[Any] = []
    for intent in domain.intents:
        props: dict[str, Any] = {}
        if intent.use_entities is not None:
            props["use_entities"] = list(intent.use_entities)
        if intent.ignore_entities:
            props["ignore_entities"] = list(intent.ignore_entities)
        intents.append({intent.name: props} if props else intent.name)
    entities: list[Any] = []
    for entity in domain.entities:
        props = {k: v for k, v in (("roles", entity.roles), ("groups", entity.groups)) if v}
        if not entity.influence_conversation:
            props["influence_conversation"] = False
        entities.append({entity.name: props} if props else entity.name)
    return {
        "version": "3.1",
        "config": {"store_entities_as_slots": True},
        "session_config": {
            "session_expiration_time": domain.session_config.session_expiration_time,
            "carry_over_slots_to_new_session": domain.session_config.carry_over_slots_to_new_session,
        },
        "intents": intents,
        "entities": entities,
        "slots": {name: _slot_as_dict(slot) for name, slot in domain.slots.items()},
        "responses": {name: [_variation_as_dict(v) for v in vs] for name, vs in domain.responses.items()},
        "actions": list(domain.actions),
        "forms": {
            name: {"required_slots": list(form.required_slots), "ignored_intents": list(form.ignored_intents)}
            for name, form in domain.forms.items()
        },
        "e2e_actions": [],
    }


# ---- the action ------------------------------------------------------------------


class RemoteAction:
    """A custom action run by a rasa_sdk action server at ``endpoint_url`` (its ``/webhook``).

    ``token`` is sent as the ``token`` query parameter, as Rasa's ``EndpointConfig`` does.
    """

    def __init__(
        self,
        name: str,
        endpoint_url: str,
        client: httpx.AsyncClient,
        token: str | None = None,
        *,
        token_name: str = "token",
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self.name = name
        self.endpoint_url = endpoint_url
        self.client = client
        self.token = token
        self.token_name = token_name
        self.timeout = timeout

    def request_body(self, tracker: Tracker, domain: Domain) -> dict[str, Any]:
        """The webhook request for running this action on ``tracker``."""
        call = ActionCall(
            next_action=self.name,
            sender_id=tracker.sender_id,
            tracker=tracker.current_state(),
            domain=domain_as_rasa_dict(domain),
        )
        return call.model_dump(mode="json")

    async def call(self, tracker: Tracker, domain: Domain) -> ActionServerAnswer:
        """Run the action on the server and return its raw answer (errors translated)."""
        params = {self.token_name: self.token} if self.token else None
        try:
            response = await self.client.post(
                self.endpoint_url,
                json=self.request_body(tracker, domain),
                params=params,
                timeout=self.timeout,
            )
        except httpx.TimeoutException as exc:
            raise ActionServerError(
                self.name, self.endpoint_url, f"no answer within {self.timeout:g}s"
            ) from exc
        except httpx.TransportError as exc:
            raise ActionServerError(
                self.name, self.endpoint_url, f"cannot connect ({type(exc).__name__}: {exc}); is it running?"
            ) from exc
        if response.status_code == 200:
            try:
                return ActionServerAnswer.model_validate(response.json() or {})
            except (ValueError, ValidationError) as exc:
                raise ActionServerError(self.name, self.endpoint_url, f"malformed answer: {exc}") from exc
        failure = _failure(response)
        if response.status_code == 404:
            raise ActionNotFound(
                f"the action server at {self.endpoint_url} has no action {self.name!r}"
                + (f" ({failure.error})" if failure.error else "")
            )
        if response.status_code == 400 and failure.action_name:
            raise ActionRejected(failure.action_name, failure.error)
        detail = failure.error or response.text[:200]
        raise ActionServerError(self.name, self.endpoint_url, f"HTTP {response.status_code}: {detail}")

    async def run(self, tracker: Tracker, domain: Domain, nlg: ResponseRenderer, channel: str) -> list[Event]:
        """The server's messages (rendered) followed by its events."""
        answer = await self.call(tracker, domain)
        return action_result_events(self.name, answer.events, answer.responses, tracker, nlg, channel)


def _failure(response: httpx.Response) -> ActionServerFailure:
    try:
        body = response.json()
    except ValueError:
        return ActionServerFailure()
    if not isinstance(body, dict):
        return ActionServerFailure()
    try:
        return ActionServerFailure.model_validate(body)
    except ValidationError:
        return ActionServerFailure()
