import { describe, expect, it } from "vitest";
import { classifyCommand } from "./classify";

const kind = (c: string) => classifyCommand(c).kind;

// Lines the classifier once read as something milder than what the shell upstream runs
// (tests/integration/ssh-bypass-hunt.test.ts runs them for real).
describe("classifyCommand: what the shell runs, not what the line looks like", () => {
  it.each([
    ["echo #'\nsudo reboot\n#'", "admin"],
    ["echo hi # it's fine", "read"],
    ["echo a#b'", "unknown"],
  ])("comments: %j is %s", (c, k) => expect(kind(c)).toBe(k));

  it.each([
    ["BASH_ENV=/dev/stdin bash -c true"],
    ["PATH=/tmp/evil ls"],
    ["LD_PRELOAD=/tmp/x.so cat f"],
    ["PS4=\\$\\(id\\) SHELLOPTS=xtrace bash -c true"],
    ["X=-exec; find / $X sh ';'"],
    ["PATH=/tmp/evil; ls"],
  ])("an assignment that may change what runs: %j is unknown", (c) => expect(kind(c)).toBe("unknown"));

  it.each([["LANG=C ls"], ["LC_ALL=C TZ=UTC date +%s"], ["TERM=dumb ls"]])("a locale, zone or terminal assignment: %j stays read", (c) => expect(kind(c)).toBe("read"));

  it.each([
    ["find / $X sh ';'"],
    ["find / \"$X\" sh ';'"],
    ["find / $'-exec' sh ';'"],
    ["find / $\"-exec\" sh ';'"],
    ["find / {-exec,} sh ';'"],
    ["find / -e{x,}ec sh ';'"],
    ["find . -exe? sh ';'"],
    ["find . -e[x]ec sh ';'"],
    ["find . -*lete"],
    ["sed $S file"],
    ["git $SUB"],
    ["$CMD"],
    ["c?t f"],
  ])("a word the shell expands may be any option: %j is unknown", (c) => expect(kind(c)).toBe("unknown"));

  it.each([["ls *.log"], ["cat /var/log/syslog.[0-9]"], ["grep -r x {a,b}/"], ["echo $HOME"], ["[ -f x ] && echo y"], ["find / -name '*.log' -print"], ["ls '$X' '*'"]])(
    "quoted, harmless or not expanded: %j stays read",
    (c) => expect(kind(c)).toBe("read"),
  );
  it("a writer with an expanded operand is still a write", () => expect(kind("rm /tmp/*.log")).toBe("write"));

  it.each([["/tmp/cat -c id"], ["./ls"], ["~/bin/cat x"], ["/home/u/grep x"], ["/usr/bin/../../tmp/cat x"]])("a reader's name outside the system's directories: %j is unknown", (c) =>
    expect(kind(c)).toBe("unknown"),
  );
  it.each([["/bin/cat x"], ["/usr/bin/cat x"], ["/usr/local/bin/jq . f"], ["/usr/sbin/ss -tln"]])("%j stays read", (c) => expect(kind(c)).toBe("read"));

  it("<> opens for writing, creating the file", () => expect(kind("cat <> /tmp/new")).toBe("write"));
  it("a backslash inside double quotes stays before other characters", () => expect(kind('find / "-\\exec" x')).toBe("read"));
});
