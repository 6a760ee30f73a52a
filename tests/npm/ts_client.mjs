// The TypeScript SDK client against the bridge: prints one JSON summary line on stdout.
// Usage: node ts_client.mjs <bridge /mcp URL> <API key>
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import {
  CreateMessageRequestSchema,
  ElicitRequestSchema,
} from "@modelcontextprotocol/sdk/types.js";

const [url, apiKey] = process.argv.slice(2);
const transport = new StreamableHTTPClientTransport(new URL(url), {
  requestInit: { headers: { Authorization: `Bearer ${apiKey}` } },
});
const client = new Client(
  { name: "ts-sdk-test", version: "1.0.0" },
  { capabilities: { sampling: {}, elicitation: {} } },
);
client.setRequestHandler(CreateMessageRequestSchema, async (request) => ({
  role: "assistant",
  model: "ts-test-model",
  content: { type: "text", text: `ts sampled: ${request.params.messages[0].content.text}` },
}));
client.setRequestHandler(ElicitRequestSchema, async () => ({
  action: "accept",
  content: { name: "Grace", check: true },
}));
await client.connect(transport);

const text = (result) => result.content.filter((c) => c.type === "text").map((c) => c.text).join("\n");
const summary = { protocolVersion: transport.protocolVersion };
summary.tools = (await client.listTools()).tools.map((t) => t.name);

// 6 steps over 3 s with a 1.5 s timeout: it only finishes if progress resets the timeout.
const progress = [];
const long = await client.callTool(
  { name: "everything__trigger-long-running-operation", arguments: { duration: 3, steps: 6 } },
  undefined,
  { onprogress: (p) => progress.push(p.progress), timeout: 1500, resetTimeoutOnProgress: true },
);
summary.long = text(long);
summary.progress = progress;

summary.sampling = text(
  await client.callTool({ name: "everything__trigger-sampling-request", arguments: { prompt: "ts" } }),
);

summary.elicitation = text(
  await client.callTool({ name: "everything__trigger-elicitation-request", arguments: {} }),
);

const links = await client.callTool({ name: "everything__get-resource-links", arguments: { count: 1 } });
const link = links.content.find((c) => c.type === "resource_link");
summary.link = link.uri;
summary.read = (await client.readResource({ uri: link.uri })).contents[0].uri;

console.log(JSON.stringify(summary));
await client.close();
