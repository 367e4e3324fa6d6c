import net from "node:net";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_POLICIES } from "@/lib/gateway/policy/defaults";
import { addConnection, putPolicies } from "../support/api-fixture";
import { type GatehouseProcess, login, startGatehouse, teardown } from "../support/gatehouse";

/**
 * An MCP call is decided before Gatehouse does anything on the caller's behalf upstream: a caller
 * whose `connect` policy refuses gets DENIED without the gateway ever reaching the host (an
 * ordinary SSH write is otherwise checked on the host first, to see where its paths lead).
 */
describe("MCP: connect is decided before anything reaches the upstream", () => {
  let gh: GatehouseProcess;
  let host: net.Server;
  let reached = 0;
  let admin = "";

  beforeAll(async () => {
    // A host that counts connections and hangs up: any login attempt shows up here (and fails at once).
    host = net.createServer((s) => {
      reached++;
      s.on("error", () => {});
      s.destroy();
    });
    await new Promise<void>((r) => host.listen(0, "127.0.0.1", r));
    gh = await startGatehouse({ demo: false });
    admin = await login(gh.url, gh.adminEmail, gh.adminPassword);
    for (const name of ["sealed-box", "open-box"]) await addConnection(gh, admin, name, { type: "ssh", upstream: `ssh://127.0.0.1:${(host.address() as net.AddressInfo).port}`, username: "nobody", secret: "x" });
    await putPolicies(gh, admin, `${DEFAULT_POLICIES}\n@id("sealed") @reason("sealed-box is closed")\nforbid (principal, action == Gatehouse::Action::"connect", resource)\nwhen { resource.name == "sealed-box" };\n`, "sealed");
  }, 120_000);

  afterAll(async () => {
    await teardown(gh);
    host?.close();
  });

  async function runSsh(connection: string, command: string): Promise<string> {
    const client = new Client({ name: "mcp-order-test", version: "1.0.0" });
    await client.connect(new StreamableHTTPClientTransport(new URL(`${gh.url}/api/mcp`), { requestInit: { headers: { authorization: `Bearer ${admin}` } } }));
    try {
      const r = (await client.callTool({ name: "run_ssh_command", arguments: { connection, command, wait_seconds: 0 } }, undefined, { timeout: 60_000 })) as CallToolResult;
      return r.content.map((c) => (c.type === "text" ? c.text : "")).join("");
    } finally {
      await client.close();
    }
  }

  it("an ordinary write to a host the caller may not connect to is refused without reaching the host", async () => {
    expect(await runSsh("sealed-box", "echo hi > notes.txt")).toMatch(/^DENIED: .*sealed-box is closed/);
    expect(reached).toBe(0);
  });

  it("an ordinary write the caller may connect for is checked on the host (so the host is reached)", async () => {
    await runSsh("open-box", "echo hi > notes.txt");
    expect(reached).toBeGreaterThan(0);
  });
});
