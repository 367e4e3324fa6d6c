import { describe, expect, it } from "vitest";
import { classifyCommand, classifyExec } from "./classify";
import { isPersistenceAncestor, isPersistencePath } from "./persistence-paths";

const kind = (line: string) => classifyCommand(line).kind;

describe("cd moves where later relative paths lead", () => {
  it("is a read, and a write after it is judged from the directory it named too", () => {
    expect(kind("cd /var/log")).toBe("read");
    expect(kind("cd project && ls")).toBe("read");
    expect(kind("cd ./project && echo x >> notes.txt")).toBe("write");
    for (const line of ["cd .ssh && echo k >> authorized_keys", "cd / && echo x > etc/cron.d/job", "cd ~/.config && cp unit systemd/user/x.service", "cd repo && cp x .git/hooks/pre-commit", "cd /srv && cd .. && touch etc/x", "cd .local && cp x bin/ls"]) {
      expect(kind(line), line).toBe("admin");
    }
    // a failed cd leaves the shell where it was: the start directory is judged too
    expect(kind("cd project || true; echo x > .profile")).toBe("admin");
  });

  it("a cd the text cannot follow makes a later write unknown, not ordinary", () => {
    for (const line of ["cd - && touch x", "cd $D && echo x > y", "cd -P x && touch y", "cd a b; touch y"]) expect(kind(line), line).toBe("unknown");
    expect(kind("cd $HOME && echo x > notes")).toBe("write");
    expect(kind("cd - && ls")).toBe("read");
  });
});

describe("the paths a write names, for the host to resolve", () => {
  const targets = (line: string) => classifyExec(line).targets;

  it("names every written word and redirection target, from the start directory and the cd one", () => {
    expect(targets("echo k >> notes/authorized_keys")).toEqual(["k", "notes/authorized_keys"]);
    expect(targets("cd notes && echo k >> authorized_keys")).toEqual(["k", "notes/k", "authorized_keys", "notes/authorized_keys"]);
    expect(targets("dd if=a of=b")).toEqual(["a", "b"]);
    expect(targets("env -C notes touch x").sort()).toEqual(["notes", "notes/x", "touch", "x"]);
    expect(targets("tar xf a.tar -C out")).toEqual(["xf", "a.tar", "out"]);
  });

  it("a glob: itself in the last segment (the host matches it), else the directory above it", () => {
    expect(targets("echo x | tee -a no*/authorized_keys")).toEqual(["."]);
    expect(targets("cp *.csv /tmp/out/")).toEqual(["*.csv", "/tmp/out/"]);
    expect(targets("cp x{a,b} out")).toEqual([".", "out"]);
    expect(targets("rm logs/*/old.log")).toEqual(["logs"]);
  });

  it("reads name nothing", () => {
    expect(targets("cat notes/authorized_keys")).toEqual([]);
  });
});

describe("a home directory the host names", () => {
  it("holds the same persistence paths as /home/USER", () => {
    const opts = { homes: ["/srv/app"] };
    for (const p of ["/srv/app/bin/x", "/srv/app/.local/bin/x", "/srv/app/.local/lib/python3/site-packages/x.pth"]) {
      expect(isPersistencePath(p), p).toBe(false);
      expect(isPersistencePath(p, opts), p).toBe(true);
    }
    expect(isPersistenceAncestor("/srv/app", opts)).toBe(true);
    expect(isPersistenceAncestor("/srv/app/.local", opts)).toBe(true);
    expect(isPersistencePath("/srv/app/data/bin/x", opts)).toBe(false);
    expect(isPersistenceAncestor("/srv/app/data", opts)).toBe(false);
  });
});
