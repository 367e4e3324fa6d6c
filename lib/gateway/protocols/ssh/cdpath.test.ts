import { describe, expect, it } from "vitest";
import { classifyCommand, classifyExec } from "./classify";

const kind = (line: string) => classifyCommand(line).kind;

/**
 * `cd NAME` looks NAME up in CDPATH first, and CDPATH comes from the login's environment
 * (~/.bashrc, ~/.ssh/environment, sshd's SetEnv), not from the line: with CDPATH=~/.config,
 * `cd autostart && echo … > x.desktop` writes into ~/.config/autostart, while the line reads as a
 * write into ~/autostart. A write after such a `cd` is not an ordinary write.
 */
describe("a cd the login's CDPATH may send elsewhere", () => {
  it("makes a later write unknown (held), not an ordinary write", () => {
    for (const line of [
      "cd autostart && echo x > evil.desktop",
      "cd project && echo x >> notes.txt",
      "cd logs/../x && touch y",
      "cd -- project && touch y",
      "sh -c 'cd project && touch y'",
      "cd project; cd /tmp && touch y",
    ]) {
      expect(kind(line), line).toBe("unknown");
      // what the host says of the names the line shows still counts (a symlink there: admin)
      const exec = classifyExec(line);
      expect(exec.request.kind, line).toBe("write");
      expect(exec.atLeast, line).toBe("unknown");
      expect(exec.targets.length, line).toBeGreaterThan(0);
    }
  });

  it("only for writes after such a cd", () => {
    expect(classifyExec("touch a; cd project; ls").atLeast).toBeUndefined();
    expect(kind("touch a; cd project; ls")).toBe("write");
  });

  it("still judges what the line shows first: a persistence write is admin", () => {
    expect(kind("cd .ssh && echo k >> authorized_keys")).toBe("admin");
    expect(kind("cd repo && cp x .git/hooks/pre-commit")).toBe("admin");
    expect(kind("cd .config && cd systemd && touch x")).toBe("admin");
  });

  it("leaves reads alone, and a cd CDPATH never applies to", () => {
    expect(kind("cd project && ls && cat notes.txt")).toBe("read");
    for (const line of ["cd ./project && touch y", "cd ../x && touch y", "cd .. && touch y", "cd . && touch y", "cd /srv/app && touch y", "cd ~/project && touch y", "cd && touch y", "cd $HOME && touch y"]) {
      expect(kind(line), line).toBe("write");
    }
  });
});
