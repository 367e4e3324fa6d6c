import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureServerBundle } from "../../scripts/build-server.mjs";
import { ROOT } from "../support/gatehouse";
import { runCli } from "../support/cli";

/**
 * bin/gatehouse.mjs runs the CLI bundle (dist/cli.mjs) only while it is current: once any source
 * it was built from is newer, the sources run through tsx, so an edit is never shadowed by an old
 * build. Proved on a copy of the repository's CLI whose bundle says something the sources do not.
 */
describe("the gatehouse launcher", () => {
  let dir: string;
  const bin = () => [process.execPath, path.join(dir, "bin", "gatehouse.mjs")];
  const help = async () => {
    const r = await runCli(["--help"], { bin: bin(), cwd: os.tmpdir() });
    expect(r.code, r.stderr).toBe(0);
    return r.stdout;
  };

  beforeAll(async () => {
    await ensureServerBundle();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "gh-launcher-"));
    for (const p of ["bin", "cli", "lib/util", "tsconfig.json", "package.json", "dist/cli.mjs", "dist/cli.inputs.json"]) {
      fs.cpSync(path.join(ROOT, p), path.join(dir, p), { recursive: true, preserveTimestamps: true });
    }
    fs.symlinkSync(path.join(ROOT, "node_modules"), path.join(dir, "node_modules"));
    // the copy's bundle tells itself apart; its date stays after its sources'
    const bundle = path.join(dir, "dist/cli.mjs");
    const { mtime } = fs.statSync(bundle);
    const text = fs.readFileSync(bundle, "utf8");
    expect(text).toContain("command-line client for the Gatehouse access gateway");
    fs.writeFileSync(bundle, text.replace("command-line client for the Gatehouse access gateway", "command-line client (bundle)"));
    fs.utimesSync(bundle, mtime, mtime);
  });

  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("names every source the bundle was built from", () => {
    const inputs = JSON.parse(fs.readFileSync(path.join(ROOT, "dist/cli.inputs.json"), "utf8")) as string[];
    expect(inputs).toEqual(expect.arrayContaining(["cli/main.ts", "cli/args.ts", "cli/commands/audit.ts", "tsconfig.json"]));
    for (const f of inputs) expect(fs.existsSync(path.join(ROOT, f)), f).toBe(true);
  });

  it("runs the bundle while it is current, and the sources once one of them is edited", async () => {
    expect(await help()).toContain("command-line client (bundle)");
    const later = new Date(fs.statSync(path.join(dir, "dist/cli.mjs")).mtimeMs + 5_000);
    fs.utimesSync(path.join(dir, "cli/commands/audit.ts"), later, later);
    const fromSources = await help();
    expect(fromSources).toContain("command-line client for the Gatehouse access gateway");
    expect(fromSources).not.toContain("(bundle)");
  });

  it("runs the sources when the bundle names a source that is gone, or nothing was built", async () => {
    fs.writeFileSync(path.join(dir, "dist/cli.inputs.json"), JSON.stringify(["cli/main.ts", "cli/gone.ts"]));
    fs.utimesSync(path.join(dir, "dist/cli.mjs"), new Date(Date.now() + 60_000), new Date(Date.now() + 60_000));
    expect(await help()).not.toContain("(bundle)");
    fs.rmSync(path.join(dir, "dist"), { recursive: true });
    expect(await help()).toContain("command-line client for the Gatehouse access gateway");
  });
});
