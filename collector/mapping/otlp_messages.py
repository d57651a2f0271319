"""Prompt and completion content from span attributes and GenAI log bodies, as AgentLens messages.

Sources, first hit wins (otlp-receiver.md §4.3): structured ``gen_ai.input.messages`` /
``gen_ai.output.messages`` (a list or a JSON string), indexed ``gen_ai.prompt.N.*`` /
``gen_ai.completion.N.*`` (OpenLLMetry), OpenInference ``llm.input_messages.N.message.*`` /
``llm.output_messages.N.message.*``, the old ``gen_ai.prompt`` / ``gen_ai.completion`` strings,
then OpenInference ``input.value`` / ``output.value``. Content never fails a span: a string
that is not the expected JSON is kept as the message text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

import orjson

from collector.mapping.otlp_common import json_value
from collector.mapping.otlp_model import Attributes

__all__ = (
    "MAX_MESSAGES",
    "Completion",
    "as_record",
    "completion_from_attributes",
    "completion_from_choice",
    "limit_messages",
    "maybe_json",
    "message_from_log",
    "normalize_message",
    "prompt_from_attributes",
    "system_prompt",
    "tool_definitions",
)

MAX_MESSAGES: Final = 32
_MAX_INDEX: Final = 128
_ROLES: Final = {
    "system": "system", "developer": "system", "user": "user", "human": "user",
    "assistant": "assistant", "ai": "assistant", "model": "assistant", "bot": "assistant",
    "tool": "tool", "function": "tool", "ipython": "tool",
}
_LOG_ROLES: Final = {
    "gen_ai.system.message": "system", "gen_ai.user.message": "user",
    "gen_ai.assistant.message": "assistant", "gen_ai.tool.message": "tool",
}


@dataclass(slots=True)
class Completion:
    text: str | None = None
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    finish_reason: str | None = None


# ------------------------------------------------------------------ public


def prompt_from_attributes(attrs: Attributes) -> list[dict[str, Any]] | None:
    """``llm_call.messages`` from the span's attributes, or ``None`` when no content was captured."""
    raw = attrs.get("gen_ai.input.messages")
    if raw is not None:
        return _structured_messages(raw)
    if "gen_ai.prompt.0.content" in attrs or "gen_ai.prompt.0.role" in attrs:
        return _indexed_messages(attrs, "gen_ai.prompt", "", "")
    if "llm.input_messages.0.message.role" in attrs or "llm.input_messages.0.message.content" in attrs:
        return _indexed_messages(attrs, "llm.input_messages", "message.", "tool_call.")
    old = attrs.get("gen_ai.prompt")
    if isinstance(old, str) and old:
        return _structured_messages(old)
    value = attrs.get("input.value")
    if isinstance(value, str) and value:
        return _messages_from_io_value(value)
    return None


def completion_from_attributes(attrs: Attributes) -> Completion | None:
    """``llm_response`` completion, tool calls and finish reason from attributes, if captured."""
    raw = attrs.get("gen_ai.output.messages")
    if raw is not None:
        return _structured_completion(raw)
    if "gen_ai.completion.0.content" in attrs or "gen_ai.completion.0.role" in attrs:
        return _completion_from_messages(
            _indexed_messages(attrs, "gen_ai.completion", "", ""),
            _text_of(attrs.get("gen_ai.completion.0.finish_reason")),
        )
    if "llm.output_messages.0.message.role" in attrs or "llm.output_messages.0.message.content" in attrs:
        return _completion_from_messages(_indexed_messages(attrs, "llm.output_messages", "message.", "tool_call."),
                                         None)
    old = attrs.get("gen_ai.completion")
    if isinstance(old, str) and old:
        return _structured_completion(old)
    value = attrs.get("output.value")
    if isinstance(value, str) and value:
        return Completion(text=_completion_text_from_io_value(value))
    return None


def system_prompt(attrs: Attributes) -> str | None:
    raw = attrs.get("gen_ai.system_instructions")
    if raw is None:
        return None
    value = maybe_json(raw)
    if isinstance(value, list):
        texts = [_part_text(p) for p in value if isinstance(p, dict)]
        joined = "\n".join(t for t in texts if t)
        return joined or None
    if isinstance(value, str) and value:
        return value
    return None


def tool_definitions(attrs: Attributes) -> list[dict[str, Any]] | None:
    """``llm_call.tools`` from ``gen_ai.tool.definitions`` or OpenInference ``llm.tools.N.tool.json_schema``."""
    defs: list[Any] = []
    raw = maybe_json(attrs.get("gen_ai.tool.definitions"))
    if isinstance(raw, list):
        defs = raw
    else:
        for i in range(_MAX_INDEX):
            schema = attrs.get(f"llm.tools.{i}.tool.json_schema")
            if schema is None:
                break
            defs.append(maybe_json(schema))
    out = []
    for d in defs[:MAX_MESSAGES]:
        if not isinstance(d, dict):
            continue
        inner = d.get("function")
        fn: dict[str, Any] = inner if isinstance(inner, dict) else d
        name = fn.get("name")
        if not isinstance(name, str) or not name:
            continue
        tool: dict[str, Any] = {"name": name}
        if isinstance(fn.get("description"), str):
            tool["description"] = fn["description"]
        params = fn.get("parameters")
        if isinstance(params, dict):
            tool["parameters"] = json_value(params)
        out.append(tool)
    return out or None


def message_from_log(event_name: str, body: Any) -> dict[str, Any] | None:
    """The message of a v1.36 ``gen_ai.{system,user,assistant,tool}.message`` log record."""
    role = _LOG_ROLES.get(event_name)
    if role is None:
        return None
    value = maybe_json(body)
    if isinstance(value, dict):
        value = {**value, "role": value.get("role") or role}
        return normalize_message(value)
    if isinstance(value, str):
        return {"role": role, "content": value}
    return {"role": role, "content": ""}


def completion_from_choice(body: Any) -> Completion:
    """A v1.36 ``gen_ai.choice`` body: ``{index, finish_reason, message: {content, tool_calls}}``."""
    value = maybe_json(body)
    if not isinstance(value, dict):
        return Completion(text=value if isinstance(value, str) else None)
    message = value.get("message")
    msg = normalize_message({**message, "role": "assistant"}) if isinstance(message, dict) else None
    return Completion(
        text=_content_text(msg["content"]) if msg else None,
        tool_calls=list(msg.get("toolCalls", [])) if msg else [],
        finish_reason=_text_of(value.get("finish_reason")),
    )


def normalize_message(m: dict[str, Any]) -> dict[str, Any]:
    """One message in AgentLens shape: ``{role, content, toolCallId?, toolCalls?}``."""
    role = _ROLES.get(str(m.get("role", "user")).lower(), "user")
    tool_calls: list[dict[str, Any]] = []
    tool_call_id = _text_of(m.get("tool_call_id") or m.get("toolCallId"))
    content: Any
    parts = m.get("parts")
    if isinstance(parts, list):
        texts: list[str] = []
        others: list[Any] = []
        for p in parts:
            if not isinstance(p, dict):
                continue
            kind = p.get("type")
            if kind == "text":
                texts.append(_str(p.get("content", p.get("text", ""))))
            elif kind == "tool_call":
                tool_calls.append(_tool_call(p.get("id"), p.get("name"), p.get("arguments")))
            elif kind == "tool_call_response":
                role = "tool"
                tool_call_id = tool_call_id or _text_of(p.get("id"))
                texts.append(_str(p.get("response", p.get("result", ""))))
            elif kind == "reasoning":
                continue
            else:
                others.append(json_value(p))
        content = "\n".join(texts) if not others else [{"type": "text", "text": t} for t in texts] + others
    else:
        content = _content(m.get("content"))
        for call in m.get("tool_calls") or ():
            if isinstance(call, dict):
                inner = call.get("function")
                fn = inner if isinstance(inner, dict) else call
                tool_calls.append(_tool_call(call.get("id"), fn.get("name"), fn.get("arguments")))
        if role == "tool" and tool_call_id is None:
            tool_call_id = _text_of(m.get("id"))
    msg: dict[str, Any] = {"role": role, "content": content}
    if tool_call_id:
        msg["toolCallId"] = tool_call_id
    if tool_calls:
        msg["toolCalls"] = tool_calls
    return msg


def as_record(raw: Any) -> dict[str, Any]:
    """Tool arguments as a JSON object: objects as is, JSON text parsed, anything else wrapped."""
    if raw is None:
        return {}
    value = maybe_json(raw)
    if isinstance(value, dict):
        return {str(k): json_value(v) for k, v in value.items()}
    if isinstance(raw, str):
        return {"raw": json_value(raw)}
    return {"value": json_value(value)}


def limit_messages(messages: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], int]:
    """At most ``MAX_MESSAGES``: the first message (usually the system prompt) and the newest ones."""
    if len(messages) <= MAX_MESSAGES:
        return messages, 0
    return [messages[0], *messages[-(MAX_MESSAGES - 1):]], len(messages) - MAX_MESSAGES


# ------------------------------------------------------------------ helpers


def maybe_json(raw: Any) -> Any:
    """JSON text parsed (objects, arrays, strings); anything else, or invalid JSON, as is."""
    if isinstance(raw, str) and raw[:1] in ("[", "{", '"'):
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:
            return raw
    return raw


def _structured_messages(raw: Any) -> list[dict[str, Any]]:
    value = maybe_json(raw)
    if isinstance(value, dict) and isinstance(value.get("messages"), list):
        value = value["messages"]
    if isinstance(value, list):
        messages = [normalize_message(m) for m in value if isinstance(m, dict)]
        if messages:
            return messages
    if isinstance(raw, str):
        return [{"role": "user", "content": raw}]  # not the expected JSON: keep the text (#23)
    return [{"role": "user", "content": orjson.dumps(json_value(value)).decode()}]


def _structured_completion(raw: Any) -> Completion:
    value = maybe_json(raw)
    if isinstance(value, list):
        messages = [m for m in value if isinstance(m, dict)]
        if messages:
            finish = _text_of(messages[0].get("finish_reason"))
            return _completion_from_messages([normalize_message(m) for m in messages], finish)
    if isinstance(raw, str):
        return Completion(text=raw)
    return Completion(text=orjson.dumps(json_value(value)).decode())


def _completion_from_messages(messages: list[dict[str, Any]], finish: str | None) -> Completion:
    texts = [_content_text(m["content"]) for m in messages]
    calls = [c for m in messages for c in m.get("toolCalls", ())]
    joined = "\n".join(t for t in texts if t)
    return Completion(text=joined or None, tool_calls=calls, finish_reason=finish)


def _indexed_messages(attrs: Attributes, prefix: str, inner: str, call_inner: str) -> list[dict[str, Any]]:
    """Flattened messages: ``{prefix}.{i}.{inner}role`` / ``content`` / ``tool_calls.{k}.*``."""
    out = []
    for i in range(_MAX_INDEX):
        base = f"{prefix}.{i}.{inner}"
        role = attrs.get(base + "role")
        content = attrs.get(base + "content")
        if role is None and content is None:
            if base + "contents.0.message_content.text" in attrs:
                content = "\n".join(
                    _str(attrs[f"{base}contents.{j}.message_content.text"])
                    for j in range(_MAX_INDEX)
                    if f"{base}contents.{j}.message_content.text" in attrs
                )
            elif f"{base}tool_calls.0.{call_inner}id" not in attrs and \
                    f"{base}tool_calls.0.{call_inner}name" not in attrs and \
                    f"{base}tool_calls.0.{call_inner}function.name" not in attrs:
                break
        msg: dict[str, Any] = {"role": role or "user", "content": "" if content is None else content}
        tool_call_id = attrs.get(base + "tool_call_id")
        if tool_call_id is not None:
            msg["tool_call_id"] = tool_call_id
        calls = []
        for k in range(_MAX_INDEX):
            cbase = f"{base}tool_calls.{k}.{call_inner}"
            name = attrs.get(cbase + "name", attrs.get(cbase + "function.name"))
            call_id = attrs.get(cbase + "id")
            if name is None and call_id is None:
                break
            args = attrs.get(cbase + "arguments", attrs.get(cbase + "function.arguments"))
            calls.append({"id": call_id, "function": {"name": name, "arguments": args}})
        if calls:
            msg["tool_calls"] = calls
        out.append(normalize_message(msg))
    return out


def _messages_from_io_value(value: str) -> list[dict[str, Any]]:
    parsed = maybe_json(value)
    if isinstance(parsed, dict) and isinstance(parsed.get("messages"), list):
        messages = [normalize_message(m) for m in parsed["messages"] if isinstance(m, dict)]
        if messages:
            return messages
    return [{"role": "user", "content": value}]


def _completion_text_from_io_value(value: str) -> str:
    parsed = maybe_json(value)
    if isinstance(parsed, dict):
        choices = parsed.get("choices")
        if isinstance(choices, list) and choices and isinstance(choices[0], dict):
            message = choices[0].get("message")
            if isinstance(message, dict) and isinstance(message.get("content"), str):
                return str(message["content"])
            if isinstance(choices[0].get("text"), str):
                return str(choices[0]["text"])
    return value


def _tool_call(call_id: Any, name: Any, arguments: Any) -> dict[str, Any]:
    return {"id": _str(call_id), "name": _str(name), "arguments": as_record(arguments)}


def _content(value: Any) -> Any:
    """OpenAI-style content: a string, or a list of parts (text parts joined when that is all)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        texts = [_part_text(p) for p in value if isinstance(p, dict)]
        if all(isinstance(p, dict) and p.get("type", "text") == "text" for p in value):
            return "\n".join(t for t in texts if t)
        return [json_value(p) if isinstance(p, dict) else {"value": json_value(p)} for p in value]
    return _str(value)


def _part_text(part: dict[str, Any]) -> str:
    value = part.get("text", part.get("content"))
    return value if isinstance(value, str) else ""


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(_part_text(p) for p in content if isinstance(p, dict) and _part_text(p))
    return ""


def _text_of(value: Any) -> str | None:
    if isinstance(value, str) and value:
        return value
    if isinstance(value, list) and value and isinstance(value[0], str):
        return value[0]
    return None


def _str(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return orjson.dumps(json_value(value)).decode()
