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

describe("classifyCommand: the command a wrapper runs is the one after its options", () => {
  it.each([
    ["env '-Ssh -c id'", "unknown"],
    ["env --split-string='sh -c id'", "unknown"],
    ["env -u cat sh -c 'sudo id'", "admin"],
    ["env -u cat sh -c 'my-tool'", "unknown"],
    ["env -C /tmp cat sh", "read"],
    ["env --unset=X ls", "read"],
    ["env BASH_ENV=/dev/stdin bash -c true", "unknown"],
    ["env -i PATH=/tmp/evil ls", "unknown"],
    ["env PATH=/x sudo id", "admin"],
    ["PATH=/x sudo id", "admin"],
    ["env LANG=C ls", "read"],
    ["env - ls", "read"],
    ["env --block-signal=INT sh", "unknown"],
    ["xargs -I cat sh -c cat", "unknown"],
    ["xargs -I{} sh -c {}", "unknown"],
    ["xargs -i cat {}", "read"],
    ["xargs -Icat cat", "unknown"],
    ["xargs find / -maxdepth 0", "unknown"],
    ["xargs sed -n p", "unknown"],
    ["xargs -E cat sh", "unknown"],
    ["xargs -a cat sh", "unknown"],
    ["xargs --process-slot-var=X cat", "unknown"],
    ["xargs -0 -n 1 cat", "read"],
    ["xargs rm", "write"],
    ["xargs", "read"],
    ["timeout -s KILL 5 cat sh", "read"],
    ["timeout -k 1 5 sudo id", "admin"],
    ["nice -n 5 cat x", "read"],
    ["nice -5 cat x", "read"],
    ["nice -n cat sh", "unknown"],
    ["stdbuf -o cat sh", "unknown"],
    ["stdbuf -oL cat x", "read"],
    ["time -o cat sh -c id", "write"],
    ["time -p ls", "read"],
    ["ionice -c 3 -p 1", "admin"],
    ["ionice -c 3 cat x", "read"],
    ["command -v sudo", "read"],
    ["command -p sudo id", "admin"],
    ["nohup cat x", "read"],
    ["timeout 5 ls *.log", "read"],
    ["timeout $T sh", "unknown"],
  ])("%j is %s", (c, k) => expect(kind(c)).toBe(k));
});

describe("classifyCommand: a sed script read command by command", () => {
  it.each([
    ["sed '/^/e id'"],
    ["sed -n '0~1e id' f"],
    ["sed '1!e id' f"],
    ["sed '$!N;/x/I,+2e id' f"],
    ["sed '\\,x,e id' f"],
    ["sed -n '/a/,/b/{e id\n}' f"],
    ["sed 's/x/y/;e' f"],
    ["sed 'y/a/b/;1e' f"],
    ["sed 's/x/id/3e' f"],
    ["sed -e p -e 'x;e' f"],
    ["sed --expression=p --expression='1 e id' f"],
    ["sed -nf script f"],
    ["sed --file=script f"],
    ["sed --unknown-option p f"],
    ["sed 's/a/b' f"],
    ["sed '}' f"],
  ])("%j runs a command (or cannot be read): unknown", (c) => expect(kind(c)).toBe("unknown"));

  it.each([["sed -n '1w/tmp/x' f"], ["sed '/a/w /tmp/x' f"], ["sed '$!W /tmp/x' f"], ["sed 's/a/b/gw /tmp/x' f"], ["sed -i.bak p f"], ["sed -n -i p f"], ["sed --in-place=.b p f"]])("%j writes", (c) =>
    expect(kind(c)).toBe("write"),
  );

  it.each([
    ["sed -n '/error/p' f"],
    ["sed 's/e/E/g;s/w/W/' f"],
    ["sed -n '1~2p' f"],
    ["sed '/^#/d' f"],
    ["sed -e '/start/,/end/{/skip/!p}' -n f"],
    ["sed '1i header text with e and w' f"],
    ["sed 'a\\\nappended e' f"],
    ["sed -E 's/(a|b)+/x/2g' f"],
    ["sed 'y/abc/xyz/' f"],
    ["sed ':a;N;$!ba;s/\\n/ /g' f"],
    ["sed 'r /etc/hosts' f"],
    ["sed -n '$=' f"],
    ["sed 10q f"],
    ["sed -u -z --posix p f"],
    ["sed -- p f"],
  ])("%j stays read", (c) => expect(kind(c)).toBe("read"));
});

describe("classifyCommand: writers and readers whose options run a program", () => {
  it.each([
    ["install -s --strip-program=sh a b"],
    ["install --strip-prog sh -s a b"],
    ["rsync -e 'sh -c id' x: y"],
    ["rsync -avze sh x: y"],
    ["rsync --rsh=sh x: y"],
    ["rsync --rsync-path='sudo rsync' a host:b"],
    ["git rebase --exec 'id' HEAD~1"],
    ["git rebase -x id HEAD~1"],
    ["git bisect run ./t.sh"],
    ["git submodule foreach 'id'"],
    ["git fetch --upload-pack='id;' /srv/r"],
    ["git pull --upload-pack=id /srv/r"],
    ["git clone -u 'id;' file:///srv/r x"],
    ["git clone --template=/tmp/hooks /srv/r x"],
    ["git clone -c core.fsmonitor=id /srv/r x"],
    ["git push --receive-pack='id;' /srv/r"],
    ["git init --template=/tmp/t"],
    ["printf -v PATH %s /tmp/evil"],
    ["printf -vPATH /tmp/evil"],
  ])("%j is unknown", (c) => expect(kind(c)).toBe("unknown"));

  it.each([
    ["rsync --server --sender -vlogDtpre.iLsfxC --remove-source-files . /srv/f"],
    ["rsync --server --sender -vlogDtpre.iLsfxC --log-file=/tmp/x . /srv/f"],
    ["rsync --server -vlogDtpre.iLsfxC . /srv"],
    ["rsync -av a/ b/"],
    ["install -m 755 a /srv/tools/a"],
    // in a project directory: in the working directory (a home directory) a checkout is admin (write-targets.test.ts)
    ["git -C repo rebase main"],
    ["git -C repo submodule update --init"],
    ["git clone https://example.test/r.git"],
    ["git fetch origin"],
    ["git push origin main"],
    ["file -C -m ./magic"],
  ])("%j is write", (c) => expect(kind(c)).toBe("write"));

  it.each([["rsync --server --sender -vlogDtpre.iLsfxC . /srv/f"], ["printf '%s\\n' x"], ["printf -- -v"], ["file /bin/ls"]])("%j stays read", (c) => expect(kind(c)).toBe("read"));
});

describe("classifyCommand: network connections from the upstream host", () => {
  it.each([
    ["cat < /dev/tcp/10.0.0.5/6379"],
    ["printf 'x' > /dev/udp/10.0.0.5/53"],
    ["sh -c 'printf x >&0; cat' <> /dev/tcp/10.0.0.5/80"],
    ["LANG=/dev/tcp/10.0.0.5/80; cat < $LANG"],
    ["cat < \"$F\""],
    ["echo x > $F"],
    ["rsync -a db:/var/backups/ ."],
    ["rsync -a . backup::module"],
    ["rsync rsync://mirror/x ."],
    ["rg --hostname-bin=/tmp/x pattern"],
  ])("%j is unknown", (c) => expect(kind(c)).toBe("unknown"));
  it.each([["rsync -a /srv/a/ /srv/b/"], ["cat < /dev/tcpx"], ["echo > /tmp/dev/tcp/x"]])("%j is not", (c) => expect(kind(c)).not.toBe("unknown"));
});

describe("classifyCommand: programs that page on a terminal", () => {
  it.each([["dmesg -H"], ["dmesg --human -T"], ["dmesg -TH"]])("%j on a tty is unknown (less runs !cmd), without one read", (c) => {
    expect(classifyCommand(c, { tty: true }).kind).toBe("unknown");
    expect(kind(c)).toBe("read");
  });
  it.each([["dmesg -H -P"], ["dmesg --human --nopager"], ["dmesg -T"]])("%j on a tty stays read", (c) => expect(classifyCommand(c, { tty: true }).kind).toBe("read"));
});

describe("classifyCommand on hostile long lines", () => {
  // A regular expression for ${…:…} backtracked cubically: 12 KB of "${:" held the event loop 27 s.
  it("classifies 300 KB of ${: (and other long lines) in linear time", () => {
    for (const line of ["${:".repeat(100_000), "${".repeat(100_000) + "}", `sed '${"s/a/b/;".repeat(30_000)}' f`, "[".repeat(100_000) + "]"]) {
      expect(["read", "unknown"]).toContain(classifyCommand(line).kind);
    }
    expect(kind("echo ${X:-y}")).toBe("unknown");
    expect(kind("echo ${a@Q}")).toBe("unknown");
    expect(kind("echo ${X} : }")).toBe("read");
  }, 20_000);
});

describe("classifyCommand: tar on a remote archive", () => {
  it.each([["tar -tf db:/backups/x.tar"], ["tar tf db:x.tar"], ["tar --file=db:x.tar -t"], ["tar -tfdb:x.tar"], ["tar -t -f user@db:/x.tar"]])("%j opens HOST:FILE through a remote shell: unknown", (c) =>
    expect(kind(c)).toBe("unknown"),
  );
  it.each([["tar -tf x.tar", "read"], ["tar -tf c:x.tar --force-local", "read"], ["tar -tf /srv/a:b.tar", "read"], ["tar -cf out.tar --exclude=a:b dir", "write"]])("%j is %s", (c, k) => expect(kind(c)).toBe(k));
});

// tests/integration/ssh-write-bypass-property.test.ts: each ran under a read-only policy and wrote a file.
describe("classifyCommand: reads that wrote (write property)", () => {
  it.each([
    ["echo x >'&1'"], // a quoted word is a file name, not a descriptor
    ["echo x >\\&2"],
    ['echo x >"&1"'],
    ["echo x >&1x"], // >&WORD: a file unless WORD is all digits (or -)
    ["echo x 1>&1out"],
    ["ls>&2new"],
    ["xxd -C in out"], // -C is a flag
    ["ss -t -D dump"],
    ["ss --diag=dump"],
    ["tar -tf a.tar --index-file=idx"],
    ["tar -cft x.tar f"], // -f takes "t": the mode is c
    ["tar -Ct -xf a.tar"],
    ["tar --file -t -c f"],
    ["journalctl -n1 --cursor-file=cur"],
    ["git reflog drop HEAD"],
  ])("%j is no read", (c) => expect(["write", "admin", "unknown"]).toContain(kind(c)));
  it("nohup on a terminal writes nohup.out: unknown there, read without one", () => {
    expect(classifyCommand("nohup echo x", { tty: true }).kind).toBe("unknown");
    expect(kind("nohup echo x")).toBe("read");
  });
  it.each([["echo x >&2"], ["ls 2>&1 | cat"], ["(ls 2>&1)"], ["ls >/dev/null 2>&1"], ["tar -tvf a.tar"], ["tar tvf a.tar"], ["tar --list -f a.tar"], ["ss -tlnp"], ["xxd -C a"], ["git reflog"]])(
    "%j stays read",
    (c) => expect(kind(c)).toBe("read"),
  );
  it("`>&$X` names a file the shell expands: unknown", () => expect(kind("echo x >&$X")).toBe("unknown"));
  it.each([["cd . > f", "write"], ["cd /tmp 2>>f && ls", "write"], ["cd &>f", "write"], ["cd . > ~/.bashrc", "admin"], ["cd > $F", "unknown"], ["cd /x 2>/dev/null && ls", "read"], ["cd /x 2>&1", "read"]])(
    "a cd's redirection is opened all the same: %j is %s",
    (c, k) => expect(kind(c)).toBe(k),
  );
  it.each([["git reflog"], ["git reflog show"], ["git config --list"], ["git config -l"], ["git config --get-regexp ."], ["git config --get-all user.name"]])("%j pages on a tty (less runs !cmd): unknown there, read without one", (c) => {
    expect(classifyCommand(c, { tty: true }).kind).toBe("unknown");
    expect(kind(c)).toBe("read");
  });
  it.each([["git --no-pager reflog"], ["git -P config -l"], ["git config user.name"], ["git config --get user.name"]])("%j on a tty stays read", (c) => expect(classifyCommand(c, { tty: true }).kind).toBe("read"));
});

describe("classifyCommand: tar's multi-volume prompt", () => {
  // At a volume's end (any truncated archive) tar asks on stdin for the next one; a reply of `!`
  // spawns a shell that reads the lines after it. tests/integration/ssh-write-bypass-property.test.ts
  it.each([["tar -tMf part.tar"], ["tar tMf part.tar"], ["tar -t --multi-volume -f part.tar"], ["tar --mu -tf part.tar"]])("%j is unknown", (c) =>
    expect(kind(c)).toBe("unknown"),
  );
  it.each([["tar -tvf a.tar"], ["tar -tf Music.tar"]])("%j stays read", (c) => expect(kind(c)).toBe("read"));
});
