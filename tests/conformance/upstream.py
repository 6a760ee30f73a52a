"""The upstream the conformance suite's server scenarios are run against, through the bridge.

Written from the scenarios' stated expectations (tool, resource and prompt names and contents are
facts the suite checks); run it over stdio with ``python upstream.py``. A low-level SDK server,
so that schemas and result shapes are exactly what the scenarios name.
"""

from __future__ import annotations

import base64
import json
import re
from typing import Any

import anyio
import mcp_types as types
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel.server import Server
from mcp.server.stdio import stdio_server

Ctx = ServerRequestContext[Any, Any]

# A 1x1 red PNG and a 1-sample silent WAV, built here rather than shipped as files.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg=="
)
WAV = (
    b"RIFF"
    + (38).to_bytes(4, "little")
    + b"WAVEfmt "
    + (16).to_bytes(4, "little")
    + (1).to_bytes(2, "little")
    + (1).to_bytes(2, "little")
    + (8000).to_bytes(4, "little")
    + (16000).to_bytes(4, "little")
    + (2).to_bytes(2, "little")
    + (16).to_bytes(2, "little")
    + b"data"
    + (2).to_bytes(4, "little")
    + b"\x00\x00"
)
PNG_B64 = base64.b64encode(PNG).decode()
WAV_B64 = base64.b64encode(WAV).decode()

NO_ARGS: dict[str, Any] = {"type": "object", "properties": {}}
SCHEMA_2020_12: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "$defs": {
        "address": {
            "type": "object",
            "properties": {"street": {"type": "string"}, "city": {"type": "string"}},
        }
    },
    "properties": {"name": {"type": "string"}, "address": {"$ref": "#/$defs/address"}},
    "additionalProperties": False,
}


def _string_args(*names: str) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {name: {"type": "string"} for name in names},
        "required": list(names),
    }


TOOLS = [
    types.Tool(name="test_simple_text", description="Returns simple text", input_schema=NO_ARGS),
    types.Tool(name="test_image_content", description="Returns an image", input_schema=NO_ARGS),
    types.Tool(name="test_audio_content", description="Returns audio", input_schema=NO_ARGS),
    types.Tool(
        name="test_embedded_resource", description="Returns a resource", input_schema=NO_ARGS
    ),
    types.Tool(
        name="test_multiple_content_types",
        description="Returns mixed content",
        input_schema=NO_ARGS,
    ),
    types.Tool(name="test_tool_with_logging", description="Logs three times", input_schema=NO_ARGS),
    types.Tool(
        name="test_tool_with_progress", description="Reports progress", input_schema=NO_ARGS
    ),
    types.Tool(name="test_error_handling", description="Always fails", input_schema=NO_ARGS),
    types.Tool(
        name="test_sampling",
        description="Asks the client's LLM",
        input_schema=_string_args("prompt"),
    ),
    types.Tool(
        name="test_elicitation", description="Asks the user", input_schema=_string_args("message")
    ),
    types.Tool(
        name="test_elicitation_sep1034_defaults",
        description="Elicitation with defaults",
        input_schema=NO_ARGS,
    ),
    types.Tool(
        name="test_elicitation_sep1330_enums",
        description="Elicitation with enums",
        input_schema=NO_ARGS,
    ),
    types.Tool(
        name="json_schema_2020_12_tool",
        description="Tool with JSON Schema 2020-12 features",
        input_schema=SCHEMA_2020_12,
    ),
]

DEFAULTS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "default": "John Doe"},
        "age": {"type": "integer", "default": 30},
        "score": {"type": "number", "default": 95.5},
        "status": {
            "type": "string",
            "enum": ["active", "inactive", "pending"],
            "default": "active",
        },
        "verified": {"type": "boolean", "default": True},
    },
}
ENUMS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "untitledSingle": {"type": "string", "enum": ["option1", "option2", "option3"]},
        "titledSingle": {
            "type": "string",
            "oneOf": [
                {"const": "value1", "title": "First Option"},
                {"const": "value2", "title": "Second Option"},
                {"const": "value3", "title": "Third Option"},
            ],
        },
        "legacyEnum": {
            "type": "string",
            "enum": ["opt1", "opt2", "opt3"],
            "enumNames": ["Option One", "Option Two", "Option Three"],
        },
        "untitledMulti": {
            "type": "array",
            "items": {"type": "string", "enum": ["option1", "option2", "option3"]},
        },
        "titledMulti": {
            "type": "array",
            "items": {
                "anyOf": [
                    {"const": "value1", "title": "First Choice"},
                    {"const": "value2", "title": "Second Choice"},
                    {"const": "value3", "title": "Third Choice"},
                ]
            },
        },
    },
}
USER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "username": {"type": "string", "description": "User's response"},
        "email": {"type": "string", "description": "User's email address"},
    },
    "required": ["username", "email"],
}


def _text(text: str) -> types.TextContent:
    return types.TextContent(type="text", text=text)


def _result(*content: Any, is_error: bool = False) -> types.CallToolResult:
    return types.CallToolResult(content=list(content), is_error=is_error)


async def call_tool(ctx: Ctx, params: types.CallToolRequestParams) -> types.CallToolResult:
    args = params.arguments or {}
    name = params.name
    if name == "test_simple_text":
        return _result(_text("This is a simple text response for testing."))
    if name == "test_image_content":
        return _result(types.ImageContent(type="image", data=PNG_B64, mime_type="image/png"))
    if name == "test_audio_content":
        return _result(types.AudioContent(type="audio", data=WAV_B64, mime_type="audio/wav"))
    if name == "test_embedded_resource":
        return _result(
            _embedded("test://embedded-resource", "This is an embedded resource content.")
        )
    if name == "test_multiple_content_types":
        return _result(
            _text("Multiple content types test:"),
            types.ImageContent(type="image", data=PNG_B64, mime_type="image/png"),
            _embedded(
                "test://mixed-content-resource",
                json.dumps({"test": "data", "value": 123}),
                "application/json",
            ),
        )
    if name == "test_error_handling":
        return _result(_text("This tool intentionally returns an error for testing"), is_error=True)
    return await _interactive(ctx, name, args)


async def _interactive(ctx: Ctx, name: str, args: dict[str, Any]) -> types.CallToolResult:
    """The tools that talk back to the client while they run."""
    if name == "test_tool_with_logging":
        for i, line in enumerate(
            ("Tool execution started", "Tool processing data", "Tool execution completed")
        ):
            if i:
                await anyio.sleep(0.05)
            await ctx.session.send_log_message("info", line, related_request_id=ctx.request_id)
        return _result(_text("Tool with logging executed successfully"))
    if name == "test_tool_with_progress":
        for i, done in enumerate((0, 50, 100)):
            if i:
                await anyio.sleep(0.05)
            await ctx.session.report_progress(done, 100)
        return _result(_text("Tool with progress executed successfully"))
    if name == "test_sampling":
        message = types.SamplingMessage(role="user", content=_text(str(args.get("prompt", ""))))
        answer = await ctx.session.create_message([message], max_tokens=100)
        content = answer.content
        text = content.text if isinstance(content, types.TextContent) else str(content)
        return _result(_text(f"LLM response: {text}"))
    schemas = {
        "test_elicitation": (str(args.get("message", "")), USER_SCHEMA, "User response"),
        "test_elicitation_sep1034_defaults": (
            "Please confirm your details",
            DEFAULTS_SCHEMA,
            "Elicitation completed",
        ),
        "test_elicitation_sep1330_enums": (
            "Please choose options",
            ENUMS_SCHEMA,
            "Elicitation completed",
        ),
    }
    if name not in schemas:
        raise ValueError(f"Unknown tool: {name}")
    message, schema, label = schemas[name]
    answer = await ctx.session.elicit_form(message, schema)  # type: ignore[arg-type]
    return _result(_text(f"{label}: action={answer.action}, content={json.dumps(answer.content)}"))


def _embedded(uri: str, text: str, mime_type: str = "text/plain") -> types.EmbeddedResource:
    return types.EmbeddedResource(
        type="resource",
        resource=types.TextResourceContents(uri=uri, mime_type=mime_type, text=text),
    )


RESOURCES = [
    types.Resource(
        uri="test://static-text",
        name="static-text",
        description="Static text",
        mime_type="text/plain",
    ),
    types.Resource(
        uri="test://static-binary",
        name="static-binary",
        description="Static PNG",
        mime_type="image/png",
    ),
    types.Resource(
        uri="test://watched-resource",
        name="watched-resource",
        description="Subscribable",
        mime_type="text/plain",
    ),
]
TEMPLATE = re.compile(r"^test://template/([^/]+)/data$")


async def read_resource(ctx: Ctx, params: types.ReadResourceRequestParams) -> Any:
    uri = str(params.uri)
    if uri == "test://static-text":
        contents: Any = types.TextResourceContents(
            uri=uri, mime_type="text/plain", text="This is the content of the static text resource."
        )
    elif uri == "test://static-binary":
        contents = types.BlobResourceContents(uri=uri, mime_type="image/png", blob=PNG_B64)
    elif uri == "test://watched-resource":
        contents = types.TextResourceContents(uri=uri, mime_type="text/plain", text="watched")
    elif match := TEMPLATE.match(uri):
        data = {"id": match[1], "templateTest": True, "data": f"Data for ID: {match[1]}"}
        contents = types.TextResourceContents(
            uri=uri, mime_type="application/json", text=json.dumps(data)
        )
    else:
        raise ValueError(f"Unknown resource: {uri}")
    return types.ReadResourceResult(contents=[contents])


PROMPTS = [
    types.Prompt(name="test_simple_prompt", description="A simple prompt"),
    types.Prompt(
        name="test_prompt_with_arguments",
        description="A prompt with arguments",
        arguments=[
            types.PromptArgument(name="arg1", description="First test argument", required=True),
            types.PromptArgument(name="arg2", description="Second test argument", required=True),
        ],
    ),
    types.Prompt(
        name="test_prompt_with_embedded_resource",
        description="A prompt with a resource",
        arguments=[types.PromptArgument(name="resourceUri", description="URI", required=True)],
    ),
    types.Prompt(name="test_prompt_with_image", description="A prompt with an image"),
]


def _said(content: Any) -> types.PromptMessage:
    return types.PromptMessage(role="user", content=content)


async def get_prompt(ctx: Ctx, params: types.GetPromptRequestParams) -> types.GetPromptResult:
    args = params.arguments or {}
    if params.name == "test_simple_prompt":
        messages = [_said(_text("This is a simple prompt for testing."))]
    elif params.name == "test_prompt_with_arguments":
        text = f"Prompt with arguments: arg1='{args.get('arg1')}', arg2='{args.get('arg2')}'"
        messages = [_said(_text(text))]
    elif params.name == "test_prompt_with_embedded_resource":
        uri = args.get("resourceUri", "test://example-resource")
        messages = [
            _said(_embedded(uri, "Embedded resource content for testing.")),
            _said(_text("Please process the embedded resource above.")),
        ]
    elif params.name == "test_prompt_with_image":
        messages = [
            _said(types.ImageContent(type="image", data=PNG_B64, mime_type="image/png")),
            _said(_text("Please analyze the image above.")),
        ]
    else:
        raise ValueError(f"Unknown prompt: {params.name}")
    return types.GetPromptResult(messages=messages)


async def complete(ctx: Ctx, params: types.CompleteRequestParams) -> types.CompleteResult:
    values = [v for v in ("paris", "park", "party") if v.startswith(params.argument.value)]
    return types.CompleteResult(
        completion=types.Completion(values=values, total=len(values), has_more=False)
    )


async def _empty(ctx: Ctx, params: Any) -> types.EmptyResult:
    return types.EmptyResult()


def build() -> Server[Any]:
    async def list_tools(ctx: Ctx, params: Any) -> types.ListToolsResult:
        return types.ListToolsResult(tools=TOOLS)

    async def list_resources(ctx: Ctx, params: Any) -> types.ListResourcesResult:
        return types.ListResourcesResult(resources=RESOURCES)

    async def list_templates(ctx: Ctx, params: Any) -> types.ListResourceTemplatesResult:
        template = types.ResourceTemplate(
            uri_template="test://template/{id}/data",
            name="template",
            description="Data by id",
            mime_type="application/json",
        )
        return types.ListResourceTemplatesResult(resource_templates=[template])

    async def list_prompts(ctx: Ctx, params: Any) -> types.ListPromptsResult:
        return types.ListPromptsResult(prompts=PROMPTS)

    return Server(
        "mcp-bridge-conformance-upstream",
        version="1.0.0",
        on_list_tools=list_tools,
        on_call_tool=call_tool,
        on_list_resources=list_resources,
        on_list_resource_templates=list_templates,
        on_read_resource=read_resource,
        on_subscribe_resource=_empty,
        on_unsubscribe_resource=_empty,
        on_list_prompts=list_prompts,
        on_get_prompt=get_prompt,
        on_completion=complete,
        on_set_logging_level=_empty,
    )


async def main() -> None:
    server = build()
    async with stdio_server() as (read_stream, write_stream):
        await server.run(read_stream, write_stream, server.create_initialization_options())


if __name__ == "__main__":
    anyio.run(main)
