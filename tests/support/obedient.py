"""A scripted model that obeys any instruction it is shown: the worst case of prompt injection.

It replays the script like the scripted provider, except when any text in its messages, fenced
as untrusted or not, carries ``OBEY <json> END`` whose ``"to"`` names this agent (``checker``,
``vision``, ``coding``, or ``vision_confirm`` for the confirming call): then it replies with that
JSON's ``"reply"``. Install it with ``obedient_models(monkeypatch)``; every instruction it
followed is recorded in ``OBEYED``.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from langchain_core.messages import BaseMessage

from autorust.llm.scripted import ScriptedChatModel

PAYLOAD = re.compile(r"OBEY\s*(\{.*?\})\s*END", re.DOTALL)
OBEYED: list[tuple[str, Any]] = []


def instruction(to: str, reply: dict[str, Any]) -> str:
    return "OBEY " + json.dumps({"to": to, "reply": reply}) + " END"


class ObedientChatModel(ScriptedChatModel):
    def _reply_for(self, messages: list[BaseMessage], metadata: dict[str, Any]) -> Any:
        task = metadata.get("autorust_task")
        me = f"{self.agent}_{task}" if task else self.agent
        for message in messages:
            for match in PAYLOAD.finditer(message.text):
                try:
                    order = json.loads(match.group(1))
                except ValueError:
                    continue
                if isinstance(order, dict) and order.get("to") == me:
                    OBEYED.append((me, order["reply"]))
                    return order["reply"]
        return super()._reply_for(messages, metadata)


def obedient_models(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every agent's scripted model becomes an obedient one (for this test)."""
    import autorust.nodes.support.shared as shared

    original = shared.make_chat_model

    def make(agent: str, config: Any, **kwargs: Any) -> Any:
        model = original(agent, config, **kwargs)
        if isinstance(model, ScriptedChatModel):
            return ObedientChatModel(replies_dir=model.replies_dir, agent=model.agent)
        return model

    monkeypatch.setattr(shared, "make_chat_model", make)
    OBEYED.clear()
