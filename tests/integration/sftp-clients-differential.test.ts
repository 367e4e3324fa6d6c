import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import fc from "fast-check";
import type { SFTPWrapper } from "ssh2";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { scp, sftpBatch } from "../support/ssh-client";
import { attrsOf, call, describeReply, normalize, RawSession, sha, SftpDifferential, type Side, SIDES, sshString, treeOf, u64 } from "../support/sftp-differential";

/**
 * Differential test of the SSH gateway's SFTP relay (lib/gateway/protocols/ssh/sftp.ts) with real
 * clients and in bulk: every case runs against the same real OpenSSH sshd (internal-sftp) twice,
 * once directly and once through Gatehouse, and what the user gets must be the same — output,
 * errors and exit status, the bytes moved, the final state of the files. Policy permits
 * everything and the user is a person (no masking applies), so nothing is held, denied or masked.
 * The request-by-request cases (hand-written packets, every request type, extensions, pipelining,
 * EOF) and the differences found are in sftp-differential.test.ts; the setup and helpers both use
 * are in tests/support/sftp-differential.ts.
 *
 * Clients: the ssh2 SFTP client (fastPut/fastGet with 64 requests in flight; random sequences of
 * operations with fast-check, SYMLINK and READ among them written by hand), and the real
 * `sftp -b`, `sftp -B -R`, `scp` (sftp mode) and `scp -O`.
 *
 * Each side writes in its own fresh directory under the login's home (`<home>/gh-sftp-diff-
 * clients-PID/direct|gateway-…`, a fresh one per run); what is read (the 30 MB file, a listing of
 * thousands of entries) is read from one shared fixture directory.
 *
 * Normalizations (all of them):
 *  - each side's sandbox directory is written `<sandbox>` wherever it appears (paths in NAME
 *    replies, messages, `sftp` and `scp` output): the two sides write in different directories.
 *  - times of files each side made itself (not set explicitly) are compared as "recent": they
 *    were made at different moments. In the random sequences, stat and lstat compare no times.
 *  - `sftp -b`/`scp`: login differs (key directly, a Gatehouse token through the gateway); both
 *    print nothing about it with LogLevel=ERROR. `df` figures and the local download directory
 *    are normalized in `sftp`'s output, and the mtime in `ls -l` of a file each side uploaded.
 *  - random sequences: each tree is made readable (chmod -R u+rwx) before the trees are compared,
 *    so a `chmod 000` hides nothing below it.
 *
 * Differences found: none in these cases (see sftp-differential.test.ts for those found).
 */
describe("SFTP and scp clients through the gateway vs the same sshd directly", () => {
  const env = new SftpDifferential("clients");
  const { sftp, rawClient, sandbox, asLogin, both, target } = env;
  let fixture = "";
  let tmp = "";

  beforeAll(async () => {
    await env.start();
    ({ fixture, tmp } = env);
  }, 120_000);

  afterAll(async () => {
    await env.stop();
  });

  it("30 MB random: fastPut and fastGet with 64 requests in flight, sha256 the same", async () => {
    const local = path.join(tmp, "upload.bin");
    const data = fs.readFileSync(path.join(fixture, "big.bin"));
    fs.copyFileSync(path.join(fixture, "big.bin"), local);
    await both("fast", async (s, dir, side) => {
      const put = await call((cb) => s.fastPut(local, `${dir}/up.bin`, { concurrency: 64, chunkSize: 32768 }, cb));
      const got = path.join(tmp, `down-${side}.bin`);
      const get = await call((cb) => s.fastGet(`${fixture}/big.bin`, got, { concurrency: 64, chunkSize: 32768 }, cb));
      return { put, get, sha: sha(fs.readFileSync(got)), up: sha(fs.readFileSync(`${dir}/up.bin`)) };
    }).then((r) => expect(r.direct).toEqual({ put: { ok: undefined }, get: { ok: undefined }, sha: sha(data), up: sha(data) }));
  }, 60_000);

  it("sftp -b: the same output, errors and exit status; the same files left", async () => {
    const local = path.join(tmp, "batch src");
    fs.mkdirSync(local, { recursive: true });
    fs.writeFileSync(path.join(local, "plain.txt"), "plain\n");
    fs.writeFileSync(path.join(local, "héllo wörld.txt"), "unicode\n");
    fs.copyFileSync(path.join(fixture, "big.bin"), path.join(local, "big.bin"));
    const run = async (side: Side) => {
      const dir = sandbox(side, "batch");
      const got = path.join(tmp, `batch-got-${side}`);
      fs.mkdirSync(got);
      const r = await sftpBatch(
        target(side),
        [
          `cd "${dir}"`,
          "pwd",
          `lcd "${local}"`,
          "put plain.txt",
          `put "héllo wörld.txt" "with space.txt"`,
          "put big.bin",
          "mkdir sub",
          "-mkdir sub",
          "chmod 640 plain.txt",
          "rename plain.txt sub/moved.txt",
          "ln -s sub/moved.txt sym",
          "ln sub/moved.txt hard",
          "symlink nowhere dangling",
          "ls -1",
          "ls -1a sub",
          `ls -l ${fixture}/small.txt`,
          `ls -1 ${fixture}/big-dir`,
          `-get ${fixture}/root-only`,
          "-rm nothing-here",
          "-rmdir sub",
          "-mkdir /root/x",
          "-cd nowhere",
          `lcd "${got}"`,
          "get big.bin",
          `get "with space.txt"`,
          "-rename with\\ space.txt sym",
          "df -h .",
          "rm hard",
          "progress",
          "get nothing-at-all",
          "echo not-reached",
        ],
        { timeoutMs: 60_000 },
      );
      const files = Object.fromEntries(fs.readdirSync(got).sort().map((n) => [n, sha(fs.readFileSync(path.join(got, n)))]));
      const dropDf = (s: string) => s.replace(/(sftp> df -h \.\n).*\n.*\n/, "$1<df>\n");
      return { code: r.code, stdout: dropDf(r.stdout.split(dir).join("<sandbox>").split(got).join("<local>")), stderr: r.stderr.split(dir).join("<sandbox>"), files, tree: treeOf(dir) };
    };
    const [d, g] = await Promise.all(SIDES.map(run));
    expect(d.code).toBe(1); // stopped at `get nothing-at-all`
    expect(d.stdout).toContain("sftp> get nothing-at-all");
    expect(d.files["big.bin"]).toBe(sha(fs.readFileSync(path.join(fixture, "big.bin"))));
    expect(g).toEqual(d);
  }, 60_000);

  it("sftp with 256 KB requests, 256 in flight (-B -R): 30 MB each way, the same bytes", async () => {
    const run = async (side: Side) => {
      const dir = sandbox(side, "sftp-big");
      const got = fs.mkdtempSync(path.join(tmp, `sftp-big-${side}-`));
      const r = await sftpBatch(target(side), [`lcd ${got}`, `get ${fixture}/big.bin`, `put big.bin ${dir}/up.bin`, `ls -l ${dir}/up.bin`], { extraArgs: ["-B", "261120", "-R", "256"], timeoutMs: 60_000 });
      return { code: r.code, stderr: r.stderr, got: sha(fs.readFileSync(path.join(got, "big.bin"))), up: sha(fs.readFileSync(`${dir}/up.bin`)), ls: r.stdout.split(dir).join("<sandbox>").split(got).join("<local>").replace(/ \w{3} [ \d]\d [\d:]{4,5} /, " <mtime> ") };
    };
    const [d, g] = await Promise.all(SIDES.map(run));
    expect(d.code, d.stderr).toBe(0);
    expect(d.up).toBe(sha(fs.readFileSync(path.join(fixture, "big.bin"))));
    expect(g).toEqual(d);
  }, 60_000);

  it("scp, sftp mode and legacy -O: a file, a tree with odd names, downloads, errors", async () => {
    const src = path.join(tmp, "scp tree");
    fs.mkdirSync(path.join(src, "ünïcode dir"), { recursive: true });
    fs.writeFileSync(path.join(src, "a file.txt"), "a\n");
    fs.writeFileSync(path.join(src, "ünïcode dir", "quo'te\"d"), "q\n");
    fs.writeFileSync(path.join(src, "empty"), "");
    fs.copyFileSync(path.join(fixture, "big.bin"), path.join(src, "big.bin"));
    fs.chmodSync(path.join(src, "a file.txt"), 0o751);
    for (const legacy of [false, true]) {
      const run = async (side: Side) => {
        const dir = sandbox(side, legacy ? "scp-legacy" : "scp");
        const got = fs.mkdtempSync(path.join(tmp, `scp-got-${side}-`));
        const t = target(side);
        const out: unknown[] = [];
        const norm = (r: { code: number | null; stdout: string; stderr: string }) => ({ ...r, stderr: r.stderr.split(dir).join("<sandbox>") });
        out.push(norm(await scp(t, path.join(src, "a file.txt"), `:${dir}/`, { legacy })));
        out.push(norm(await scp(t, src, `:${dir}/copy`, { legacy, extraArgs: ["-r", "-p"] })));
        out.push(norm(await scp(t, `:${dir}/copy`, got, { legacy, extraArgs: ["-r"] })));
        out.push(norm(await scp(t, `:${fixture}/root-only`, got, { legacy })));
        out.push(norm(await scp(t, `:${dir}/nothing`, got, { legacy })));
        out.push(norm(await scp(t, path.join(src, "empty"), ":/root/nope", { legacy })));
        return { out, tree: treeOf(dir), got: treeOf(got) };
      };
      const [d, g] = await Promise.all(SIDES.map(run));
      expect((d.out[0] as { code: number }).code, JSON.stringify(d.out[0])).toBe(0);
      expect(d.tree["copy/big.bin"]).toMatch(/^file 644 31457280 /);
      expect(g, legacy ? "scp -O" : "scp").toEqual(d);
    }
  }, 80_000);

  it("random sequences of operations on a small directory (fast-check): the same outcomes and the same files", async () => {
    const names = ["a", "b", "d", "d/a", "d/e", "l"];
    const name = fc.constantFrom(...names);
    const op = fc.oneof(
      fc.record({ op: fc.constant("mkdir" as const), p: name }),
      fc.record({ op: fc.constant("rmdir" as const), p: name }),
      fc.record({ op: fc.constant("remove" as const), p: name }),
      fc.record({ op: fc.constant("rename" as const), p: name, q: name }),
      fc.record({ op: fc.constant("posix-rename" as const), p: name, q: name }),
      fc.record({ op: fc.constant("symlink" as const), p: name, q: name }),
      fc.record({ op: fc.constant("write" as const), p: name, flags: fc.constantFrom("w", "wx", "a", "r+", "r"), at: fc.nat(20), data: fc.string({ maxLength: 8 }) }),
      fc.record({ op: fc.constant("read" as const), p: name, at: fc.nat(20) }),
      fc.record({ op: fc.constant("stat" as const), p: name }),
      fc.record({ op: fc.constant("lstat" as const), p: name }),
      fc.record({ op: fc.constant("chmod" as const), p: name, mode: fc.constantFrom(0o600, 0o644, 0o755, 0o000) }),
      fc.record({ op: fc.constant("readlink" as const), p: name }),
      fc.record({ op: fc.constant("realpath" as const), p: name }),
      fc.record({ op: fc.constant("readdir" as const), p: fc.constantFrom(".", "d") }),
    );
    type Op = typeof op extends fc.Arbitrary<infer X> ? X : never;
    const apply = async (s: SFTPWrapper, dir: string, o: Op, raw: RawSession): Promise<unknown> => {
      const at = (p: string) => `${dir}/${p}`;
      switch (o.op) {
        case "mkdir":
          return call((cb) => s.mkdir(at(o.p), cb));
        case "rmdir":
          return call((cb) => s.rmdir(at(o.p), cb));
        case "remove":
          return call((cb) => s.unlink(at(o.p), cb));
        case "rename":
          return call((cb) => s.rename(at(o.p), at(o.q), cb));
        case "posix-rename":
          return call((cb) => s.ext_openssh_rename(at(o.p), at(o.q), cb));
        case "symlink": // by hand, in OpenSSH's order: ssh2 orders it by the server's banner (see rawClient in tests/support/sftp-differential.ts)
          return describeReply(await raw.one(20, o.q, at(o.p)), dir);
        case "write": {
          const h = await call((cb) => s.open(at(o.p), o.flags, cb));
          if (!("ok" in h)) return h;
          const handle = Buffer.from((h.ok as { hex: string }).hex, "hex");
          const data = Buffer.from(o.data);
          return [h, await call((cb) => s.write(handle, data, 0, data.length, o.at, cb)), await call((cb) => s.close(handle, cb))];
        }
        case "read": {
          // by hand: ssh2 1.17 never calls back a read answered with a failure (a directory's
          // handle), and its session answers nothing more after it, directly as through the gateway
          const open = await raw.one(3, at(o.p), 1, 0);
          if (open.type !== 102) return describeReply(open, dir);
          const h = sshString(open.body.subarray(4, 4 + open.body.readUInt32BE(0)));
          return (await raw.pipeline([[5, h, u64(o.at), 16], [4, h]])).map((r) => describeReply(r, dir));
        }
        case "stat":
          return call((cb) => s.stat(at(o.p), (err, st) => cb(err, st && { ...attrsOf(st), atime: 0, mtime: 0 })));
        case "lstat":
          return call((cb) => s.lstat(at(o.p), (err, st) => cb(err, st && { ...attrsOf(st), atime: 0, mtime: 0 })));
        case "chmod":
          return call((cb) => s.chmod(at(o.p), o.mode, cb));
        case "readlink":
          return call((cb) => s.readlink(at(o.p), cb));
        case "realpath":
          return call((cb) => s.realpath(at(o.p), cb));
        case "readdir":
          return call((cb) => s.readdir(at(o.p), (err, list) => cb(err, list?.map((e) => `${e.filename} ${e.attrs.mode.toString(8)} ${e.attrs.size}`).sort())));
      }
    };
    const raws = {} as Record<Side, RawSession>;
    for (const side of SIDES) {
      raws[side] = await RawSession.open(rawClient[side]);
      await raws[side].init();
    }
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 6, maxLength: 30 }), async (ops) => {
        const dirs = { direct: sandbox("direct", "fc"), gateway: sandbox("gateway", "fc") };
        // each side starts from the same few files, so most operations meet something
        for (const side of SIDES) {
          fs.writeFileSync(`${dirs[side]}/a`, "alpha");
          fs.writeFileSync(`${dirs[side]}/b`, "bravo-contents");
          fs.mkdirSync(`${dirs[side]}/d`);
          fs.writeFileSync(`${dirs[side]}/d/e`, "echo");
          asLogin(dirs[side]);
        }
        const [d, g] = await Promise.all(
          SIDES.map(async (side) => {
            const results: unknown[] = [];
            for (const o of ops) results.push(normalize(await apply(sftp[side], dirs[side], o, raws[side]), dirs[side]));
            return results;
          }),
        );
        for (const side of SIDES) execFileSync("chmod", ["-R", "u+rwx", dirs[side]]); // a chmod 000 must not hide the tree below
        expect(g).toEqual(d);
        expect(treeOf(dirs.gateway)).toEqual(treeOf(dirs.direct));
      }),
      { numRuns: 40 },
    );
  }, 60_000);
});
