"""The messages of a structured call, in the shape every chat template accepts.

Strict templates (Gemma 3, Mistral-style, on vLLM/SGLang/llama-server ``--jinja``) answer 400
"roles must alternate" unless the conversation is: one system message first, then user and
assistant turns alternating, starting and ending with a user turn. ``arrange`` builds that
shape from any list: system texts are merged into the first message (the schema statement
appended), consecutive turns of one role are merged, and each re-ask is an assistant turn (the
rejected reply, shortened) followed by a user turn (what was wrong, the schema restated).
"""

from __future__ import annotations

from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage

ECHO_CHARS = 2000  # how much of a rejected reply is repeated back to the model


def _parts(content: Any) -> list[Any]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    return list(content or [])


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    return "\n".join(
        part if isinstance(part, str) else str(part.get("text", ""))
        for part in content or []
        if isinstance(part, str) or (isinstance(part, dict) and part.get("type") == "text")
    )


def _merge(first: BaseMessage, second: BaseMessage) -> BaseMessage:
    if isinstance(first.content, str) and isinstance(second.content, str):
        content: Any = f"{first.content}\n\n{second.content}".strip()
    else:
        content = _parts(first.content) + _parts(second.content)
    return type(first)(content=content)


def _role(message: BaseMessage) -> str:
    return "assistant" if isinstance(message, AIMessage) else "user"


def arrange(messages: list[BaseMessage], statement: str | None) -> list[BaseMessage]:
    """System first (with ``statement`` appended), then alternating user/assistant turns."""
    system = [_text(m.content) for m in messages if isinstance(m, SystemMessage)]
    if statement:
        system.append(statement)
    turns: list[BaseMessage] = []
    for message in messages:
        if isinstance(message, SystemMessage):
            continue
        if isinstance(message, AIMessage):  # as text: no tool-call turn to answer
            message = AIMessage(content=message.content or "(no content)")
        elif not isinstance(message, HumanMessage):
            message = HumanMessage(content=message.content)
        if turns and _role(turns[-1]) == _role(message):
            turns[-1] = _merge(turns[-1], message)
        else:
            turns.append(message)
    if turns and isinstance(turns[0], AIMessage):
        turns.insert(0, HumanMessage("Continue."))
    arranged: list[BaseMessage] = [SystemMessage("\n\n".join(t for t in system if t))]
    return [*arranged, *turns] if arranged[0].content else turns


def echo(text: str) -> str:
    """A rejected reply as repeated in the assistant turn of a re-ask (never empty: some
    templates reject an empty assistant turn)."""
    text = text.strip()
    if len(text) > ECHO_CHARS:
        text = text[:ECHO_CHARS] + " [...]"
    return text or "(no content)"


def reask(previous: str, problem: str, statement: str) -> list[BaseMessage]:
    """The assistant/user pair that re-asks after a rejected reply, restating the schema."""
    return [
        AIMessage(echo(previous)),
        HumanMessage(f"Your previous reply was rejected: {problem}\n{statement}"),
    ]
