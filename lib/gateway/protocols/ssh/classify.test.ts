import { describe, expect, it } from "vitest";
import { classifyCommand } from "./classify";

const kind = (c: string) => classifyCommand(c).kind;

describe("classifyCommand", () => {
  it.each([
    ["ls -la /var/log", "read"],
    ["cat /etc/hostname | grep x | wc -l", "read"],
    ["echo hello 2>&1", "read"],
    ["ls > /dev/null 2>&1", "read"],
    ["exit 3", "read"],
    ["sh -c 'exit 3'", "read"],
    ["FOO=1 env LANG=C ls", "read"],
    ["timeout 5 cat x", "read"],
    ["git status", "read"],
    ["find / -name x", "read"],
    ["sed -n 1p file", "read"],
    ["tar tf x.tar", "read"],
    ["scp -f /etc/hosts", "read"],
  ])("%s is read", (c, k) => expect(kind(c)).toBe(k));

  it.each([
    ["rm -rf /tmp/x", "write"],
    ["echo hi > /tmp/x", "write"],
    ["echo hi >> /tmp/x", "write"],
    ["echo hi &> /tmp/x", "write"],
    ["ls; touch y", "write"],
    ["sed -i s/a/b/ file", "write"],
    ["sed 'w /tmp/out' file", "write"],
    ["scp -t /tmp", "write"],
    ["xargs rm < list", "write"],
    ["git push", "write"],
  ])("%s is write", (c, k) => expect(kind(c)).toBe(k));

  it.each([
    ["sudo ls", "admin"],
    ["ls && systemctl restart nginx", "admin"],
    ["bash -c 'kill -9 1'", "admin"],
    ["/usr/bin/sudo -i", "admin"],
    ["env PATH=/x sudo id", "admin"],
  ])("%s is admin", (c, k) => expect(kind(c)).toBe(k));

  it.each([
    ["./deploy.sh"],
    ["python3 -c 'import os'"],
    ["ls $(rm -rf /)"],
    ["ls `id`"],
    ["cat <(curl x)"],
    ["echo 'unterminated"],
    ["find / -delete"],
    ["rm x; my-tool"],
    ["awk '{system(\"rm x\")}'"],
    ["cat <<EOF\nx\nEOF"],
    ["eval ls"],
  ])("%s is unknown", (c) => expect(kind(c)).toBe("unknown"));

  it("keeps the exact text and action", () => {
    expect(classifyCommand("uptime")).toEqual({ action: "exec", kind: "read", tables: [], functions: [], text: "uptime" });
  });
});
