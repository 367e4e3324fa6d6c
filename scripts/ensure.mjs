// Shared by `npm start` and `npm test`: install what is missing, never download binaries.
import { createHash } from "node:crypto";
import { execFileSync, spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { ensureServerBundle, newestMtime } from "./build-server.mjs";

export const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), "..");

function run(cmd, args, opts = {}) {
  console.log(`$ ${cmd} ${args.join(" ")}`);
  const r = spawnSync(cmd, args, { stdio: "inherit", cwd: root, ...opts });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed with exit code ${r.status}`);
}

/** `npm ci` when node_modules is absent or older than package-lock.json. */
export function ensureNodeModules() {
  const lock = path.join(root, "package-lock.json");
  const stamp = path.join(root, "node_modules", ".gatehouse-lock-hash");
  const want = createHash("sha256").update(fs.readFileSync(lock)).digest("hex");
  const have = fs.existsSync(stamp) ? fs.readFileSync(stamp, "utf8") : "";
  if (have === want && fs.existsSync(path.join(root, "node_modules", "next"))) return;
  run("npm", ["ci", "--no-audit", "--no-fund"]);
  fs.writeFileSync(stamp, want);
}

/** What the console build is made of. */
const CONSOLE_SOURCES = ["app", "components", "lib", "db", "next.config.mjs", "package-lock.json", "postcss.config.mjs", "tsconfig.json"];

/**
 * `next build` and the server bundle, each when missing or older than its sources.
 * `typecheckFollows`: the caller type-checks everything (the console included, with the route
 * types the build generates) right after, so the build skips its own TypeScript pass.
 */
export async function ensureBuild({ typecheckFollows = false } = {}) {
  const buildId = path.join(root, ".next", "BUILD_ID");
  if (!fs.existsSync(buildId) || fs.statSync(buildId).mtimeMs <= newestMtime(CONSOLE_SOURCES)) {
    const env = { ...process.env, NEXT_TELEMETRY_DISABLED: "1" };
    if (typecheckFollows) env.GATEHOUSE_BUILD_SKIP_TYPECHECK = "1";
    run("npx", ["next", "build"], { env });
  }
  await ensureServerBundle();
}

const SYSTEM_PACKAGES = [
  { bin: "/usr/lib/postgresql/15/bin/initdb", pkg: "postgresql-15" },
  { bin: "/usr/bin/chromium", pkg: "chromium" },
  { bin: "/usr/sbin/sshd", pkg: "openssh-server" },
  { bin: "/usr/bin/ssh", pkg: "openssh-client" },
  { bin: "/usr/sbin/mariadbd", pkg: "mariadb-server" },
  { bin: "/usr/bin/tmux", pkg: "tmux" },
  { bin: "/usr/bin/sshpass", pkg: "sshpass" },
  { bin: "/usr/bin/xauth", pkg: "xauth" },
  { bin: "/usr/bin/psql", pkg: "postgresql-client-15" },
  { bin: "/usr/bin/openssl", pkg: "openssl" },
  // crontab(1): a user's crontab is a place a command through the SSH gateway may write (tests fingerprint it)
  { bin: "/usr/bin/crontab", pkg: "cron" },
  { bin: "/usr/lib/postgresql/15/bin/pgbench", pkg: "postgresql-15" },
  // a real JDBC program through the PostgreSQL gateway: pgJDBC, compiled with javac and run by the JDK
  { bin: "/usr/bin/javac", pkg: "openjdk-17-jdk-headless" },
  { bin: "/usr/share/java/postgresql.jar", pkg: "libpostgresql-jdbc-java" },
];

/** The servers and clients the tests drive for real, from Debian's packages. */
export function ensureSystemPackages() {
  const missing = SYSTEM_PACKAGES.filter((p) => !fs.existsSync(p.bin)).map((p) => p.pkg);
  if (!missing.length) return;
  if (process.getuid?.() !== 0) {
    throw new Error(`missing system packages: ${missing.join(" ")}. Install them with: sudo apt-get install -y ${missing.join(" ")}`);
  }
  run("apt-get", ["update", "-qq"]);
  run("apt-get", ["install", "-y", "-qq", "--no-install-recommends", ...missing], { env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" } });
}

export function has(cmd) {
  try {
    execFileSync("sh", ["-c", `command -v ${cmd}`], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}
