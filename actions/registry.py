"""Finds the action for a name, the way Rasa's ``action_for_name_or_text`` does.

Resolution order:

1. Rasa's default actions (``action_listen``, ``action_restart``, ...) - unless the
   domain lists the name under ``actions`` and a custom action can run it, which is
   how a bot replaces e.g. ``action_default_ask_affirmation``;
2. the domain's forms (unless a custom action of the same name overrides the form);
3. retrieval actions ``utter_<retrieval intent>``;
4. ``utter_*`` responses of the domain;
5. custom actions defined in the configured Python modules (rasa_sdk-style classes,
   run in-process through :class:`SdkActionAdapter`);
6. the action server, when an endpoint is configured;

and otherwise :class:`~bot.errors.ActionNotFound`.
"""

from __future__ import annotations

import asyncio
import copy
import importlib
import inspect
import logging
import pkgutil
from collections.abc import Mapping, Sequence
from types import ModuleType
from typing import Any

import httpx

from actions import sdk
from actions.base import Action, UtterAction, action_result_events
from actions.defaults import RetrievalAction, default_actions
from actions.extract_slots import ExtractSlotsAction
from actions.forms import FormAction
from actions.remote import DEFAULT_TIMEOUT, RemoteAction, domain_as_rasa_dict
from bot.domain import ACTION_EXTRACT_SLOTS, Domain
from bot.errors import ActionNotFound, ActionRejected, ConfigError
from bot.events import Event
from bot.nlg import ResponseRenderer
from bot.tracker import Tracker

log = logging.getLogger(__name__)


class SdkActionAdapter:
    """Runs a rasa_sdk-style action in-process: it gets an sdk ``Tracker`` built from the
    tracker state, a ``CollectingDispatcher`` and the domain dict, exactly what an action
    server would give it, and its answer is converted like a remote one."""

    def __init__(self, action: sdk.Action, domain_dict: dict[str, Any]) -> None:
        self.action = action
        self.name = action.name()
        self._domain_dict = domain_dict

    async def run(self, tracker: Tracker, domain: Domain, nlg: ResponseRenderer, channel: str) -> list[Event]:
        """The action's messages followed by its events; ``ActionExecutionRejection`` becomes
        :class:`~bot.errors.ActionRejected`."""
        state = tracker.current_state()
        state["slots"] = copy.deepcopy(state["slots"])
        sdk_tracker = sdk.Tracker.from_dict(state)
        dispatcher = sdk.CollectingDispatcher()
        run: Any = self.action.run
        try:
            if inspect.iscoroutinefunction(run):
                result = await run(dispatcher, sdk_tracker, self._domain_dict)
            else:
                # A plain ``def run`` may block (databases, HTTP); keep it off the event loop.
                result = await asyncio.to_thread(run, dispatcher, sdk_tracker, self._domain_dict)
        except sdk.ActionExecutionRejection as exc:
            raise ActionRejected(exc.action_name, exc.message) from exc
        events = [e for e in (result or []) if _has_event_key(e, self.name)]
        return action_result_events(self.name, events, dispatcher.messages, tracker, nlg, channel)


def _has_event_key(event: Any, action_name: str) -> bool:
    # rasa_sdk drops events without an ``event`` key with an error log; so do we.
    if isinstance(event, dict) and event.get("event"):
        return True
    log.error("action %r returned %r, which is not an event; ignored", action_name, event)
    return False


def _modules(name: str) -> list[ModuleType]:
    """The module ``name`` and, for a package, all of its submodules."""
    try:
        module = importlib.import_module(name)
    except ImportError as exc:
        raise ConfigError(f"cannot import actions module {name!r}: {exc}") from exc
    found = [module]
    if hasattr(module, "__path__"):
        for info in pkgutil.walk_packages(module.__path__, prefix=f"{module.__name__}."):
            found.append(importlib.import_module(info.name))
    return found


def discover_actions(module_names: Sequence[str]) -> dict[str, sdk.Action]:
    """Instances of the ``actions.sdk.Action`` subclasses defined in these modules, by name.

    Abstract helpers and intermediate base classes (whose ``name()`` is not implemented)
    are skipped; a later definition of the same name replaces an earlier one, as in
    rasa_sdk's executor.
    """
    found: dict[str, sdk.Action] = {}
    for module_name in module_names:
        for module in _modules(module_name):
            for _, cls in inspect.getmembers(module, inspect.isclass):
                if (
                    cls.__module__ != module.__name__
                    or not issubclass(cls, sdk.Action)
                    or inspect.isabstract(cls)
                ):
                    continue
                try:
                    instance = cls()
                    name = instance.name()
                except NotImplementedError:
                    continue
                if name in found:
                    log.info(
                        "action %r defined again in %s; the later definition is used", name, module.__name__
                    )
                found[name] = instance
    return found


class ActionRegistry:
    """Every action the bot can run; see the module doc for the resolution order.

    ``modules`` are Python modules (or packages) with in-process custom actions;
    ``action_endpoint`` is a rasa_sdk action server's webhook URL. Without ``http`` the
    registry makes its own client for the action server; close it with :meth:`aclose`.
    """

    def __init__(
        self,
        domain: Domain,
        nlg: ResponseRenderer,
        modules: Sequence[str] = (),
        action_endpoint: str | None = None,
        http: httpx.AsyncClient | None = None,
        *,
        token: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        native: Mapping[str, Action] | None = None,
    ) -> None:
        self.domain = domain
        # actions the app builds with injected services (e.g. the knowledge base's answer action)
        self._native: dict[str, Action] = dict(native or {})
        self.nlg = nlg
        self.action_endpoint = action_endpoint
        self._token = token
        self._timeout = timeout
        self._owns_http = http is None and action_endpoint is not None
        self._http = httpx.AsyncClient() if self._owns_http else http
        self.domain_dict = domain_as_rasa_dict(domain)
        self._custom = discover_actions(modules)
        self._defaults: dict[str, Action] = default_actions(self)
        self._defaults[ACTION_EXTRACT_SLOTS] = ExtractSlotsAction(self)
        self._cache: dict[str, Action] = {}

    @property
    def custom_action_names(self) -> list[str]:
        """Names of the in-process custom actions found in the configured modules."""
        return sorted(self._custom)

    def has_custom(self, name: str) -> bool:
        """True when a custom action can run ``name``: in-process, or on the configured
        action server when the domain declares it."""
        return (
            name in self._native
            or name in self._custom
            or (self.action_endpoint is not None and name in self.domain.actions)
        )

    def _user_overrides(self, name: str) -> bool:
        return name in self.domain.actions and self.has_custom(name)

    def has(self, name: str) -> bool:
        """True when :meth:`get` resolves ``name`` to an action the bot can run."""
        if name in self._defaults or name in self.domain.forms or self.has_custom(name):
            return True
        if name.startswith("utter_"):
            return name[len("utter_") :] in self.domain.retrieval_intents or name in self.domain.responses
        return False

    def get(self, name: str) -> Action:
        """The action called ``name``; raises :class:`~bot.errors.ActionNotFound`."""
        action = self._cache.get(name)
        if action is None:
            action = self._resolve(name)
            self._cache[name] = action
        return action

    def _resolve(self, name: str) -> Action:
        if name in self._defaults and not self._user_overrides(name):
            return self._defaults[name]
        if name in self.domain.forms and not self._user_overrides(name):
            return FormAction(name, self)
        if name.startswith("utter_") and name[len("utter_") :] in self.domain.retrieval_intents:
            return RetrievalAction(name)
        if name.startswith("utter_") and name in self.domain.responses:
            return UtterAction(name)
        if name in self._native:
            return self._native[name]
        if name in self._custom:
            return SdkActionAdapter(self._custom[name], self.domain_dict)
        if self.action_endpoint is not None and self._http is not None:
            return RemoteAction(name, self.action_endpoint, self._http, self._token, timeout=self._timeout)
        raise ActionNotFound(
            f"no action {name!r}: not a default action, form or response, not defined in the actions "
            "modules, and no action server is configured"
        )

    async def aclose(self) -> None:
        """Close the HTTP client the registry made for itself (not one it was given)."""
        if self._owns_http and self._http is not None:
            await self._http.aclose()
