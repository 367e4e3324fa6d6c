import { describe, expect, it } from "vitest";
import { classifyCommand, isBinaryTransfer } from "./classify";

const kind = (c: string) => classifyCommand(c).kind;

describe("classifyCommand", () => {
  it.each([
    ["echo ssh-ed25519 AAAA >> ~/.ssh/authorized_keys"],
    ["tee -a .bashrc"],
    ["cp hook.sh repo/.git/hooks/pre-commit"],
    ["sh -c 'echo x > ~/.profile'"],
    ["dd if=k of=.ssh/authorized_keys"],
    ["ln -s /tmp/x ~/bin/ls"],
    ["sed -i s/a/b/ /etc/hosts"],
    ["mkdir -p .config/systemd/user"],
  ])("%s writes where the host runs code later: admin", (c) => expect(kind(c)).toBe("admin"));
  it.each([["cat ~/.ssh/authorized_keys", "read"], ["grep x .bashrc", "read"], ["echo hi > notes.txt", "write"], ["cp a project/bin/app", "write"]])("%s stays %s", (c, k) => expect(kind(c)).toBe(k));

  it.each([
    ["ls -la /var/log", "read"],
    ["cat /etc/hostname | grep x | wc -l", "read"],
    ["echo hello 2>&1", "read"],
    ["ls > /dev/null 2>&1", "read"],
    ["exit 3", "read"],
    ["sh -c 'exit 3'", "read"],
    ["LC_ALL=C env LANG=C ls", "read"],
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

  // Read-only programs whose options run a command of the caller's choosing: each was "read",
  // so the default policies let a member or an agent run anything with no approval.
  it.each([
    ["echo | sed 's/.*/id/e'"],
    ["sed -n 's|x|y|ge' file"],
    ["sed --expression='s/x/y/e' file"],
    ["sed -e '1e id' file"],
    ["sed -f script.sed file"],
    ["tar -tf x.tar -I 'sh -c id'"],
    ["tar tIf 'sh -c id' x.tar"],
    ["tar -tf x.tar --checkpoint=1 --checkpoint-action=exec=id"],
    ["tar -tf x.tar --use-compress=sh"],
    ["tar -tf x.tar --to-command=id"],
    ["rg --pre ./run.sh pattern"],
    ["rg --pre=sh x"],
    ["sort -S 1 --compress-program=sh big"],
    ["sort --comp=sh big"],
    ["find / -fprint0 /tmp/list"],
  ])("%s runs a program of its own choosing: unknown", (c) => expect(kind(c)).toBe("unknown"));

  it.each([
    ["sed 's/x/y/w /tmp/out' file"],
    ["sed --in-pl s/a/b/ file"],
  ])("%s writes", (c) => expect(kind(c)).toBe("write"));

  it.each([["sed 's/e/E/g' file"], ["sed -n '/see/p' file"], ["sed -E 's/(a|e)x/y/' file"], ["tar tvf x.tar"], ["sort -r file"], ["rg -n pattern"]])("%s stays read", (c) => expect(kind(c)).toBe("read"));

  // On a pseudo-terminal (ssh -t), less runs any command typed as `!cmd`; git and journalctl page through it.
  it.each([["less /etc/hostname"], ["more x"], ["git log"], ["journalctl -u nginx"], ["cat x | less"], ["sh -c 'less x'"]])("%s on a tty is unknown, without one read", (c) => {
    expect(classifyCommand(c, { tty: true }).kind).toBe("unknown");
    expect(kind(c)).toBe("read");
  });

  it.each([["ls -la"], ["git status"], ["journalctl --no-pager -n 5"]])("%s on a tty stays read", (c) => expect(classifyCommand(c, { tty: true }).kind).toBe("read"));

  // "Read-only" programs given an operand or option that writes a file or changes the system:
  // each was "read", so a read-only policy let it through.
  it.each([
    ["uniq in.txt out.txt", "write"],
    ["uniq -f 1 in.txt out.txt", "write"],
    ["xxd -r dump.hex /srv/tools/tool", "write"],
    ["xxd -r dump.hex /usr/local/bin/tool", "admin"],
    ["xxd in.bin out.hex", "write"],
    ["sort -uo out.txt in.txt", "write"],
    ["sort --out=out.txt in.txt", "write"],
    ["git branch -D main", "write"],
    ["git branch new-feature", "write"],
    ["git branch -m old new", "write"],
    ["git branch --set-upstream-to=origin/x", "write"],
    ["git log --output=/tmp/x", "write"],
    ["git diff --out=/tmp/x", "write"],
    ["git tag v1", "write"],
    ["git tag -d v1", "write"],
    ["git remote add evil https://x", "write"],
    ["git remote set-url origin https://x", "write"],
    ["git reflog expire --all", "write"],
    ["git commit -m x", "write"],
    ["date 010100002030", "admin"],
    ["date -s '2030-01-01'", "admin"],
    ["date --set=tomorrow", "admin"],
    ["hostname evil", "admin"],
    ["hostname -F /tmp/name", "admin"],
    ["dmesg -C", "admin"],
    ["dmesg --read-clear", "admin"],
    ["journalctl --vacuum-time=1s", "admin"],
    ["journalctl --rotate", "admin"],
    ["ss -K dst 10.0.0.1", "admin"],
  ])("%s is %s", (c, k) => expect(kind(c)).toBe(k));

  it.each([
    ["git -c core.pager=id log"],
    ["git --exec-path=/tmp status"],
    ["git my-alias"],
    ["git grep -O'sh -c id' x"],
    ["git grep --open-files-in-pager=id x"],
  ])("%s may run anything: unknown", (c) => expect(kind(c)).toBe("unknown"));

  it.each([
    ["uniq -c in.txt"],
    ["sort -k2 -t, in.csv"],
    ["xxd -l 64 file.bin"],
    ["git branch"],
    ["git branch -avv"],
    ["git branch --list 'feat*'"],
    ["git branch --contains HEAD"],
    ["git tag"],
    ["git tag -l 'v1*'"],
    ["git remote -v"],
    ["git remote show origin"],
    ["git reflog"],
    ["git -C /srv/app --no-pager log -5"],
    ["git --version"],
    ["git grep -n TODO"],
    ["date +%s"],
    ["date -u -d '2 days ago' +%F"],
    ["date -Iseconds"],
    ["hostname -f"],
    ["dmesg -T -l err"],
    ["journalctl --no-pager -u nginx --since today"],
    ["ss -tlnp"],
  ])("%s stays read", (c) => expect(kind(c)).toBe("read"));

  it("tells the binary file transfers (scp sending files, rsync's server side) from commands", () => {
    for (const c of ["scp -f /etc/hosts", "/usr/bin/scp -r -f dir", "rsync --server --sender -vlogDtpre.iLsfxC . /srv", "rsync --server -vlogDtpre.iLsfxC . /srv"]) expect(isBinaryTransfer(c), c).toBe(true);
    for (const c of ["scp -t /tmp", "cat file", "echo scp -f x", "scp -f x; ls", "rsync -av a b"]) expect(isBinaryTransfer(c), c).toBe(false);
    expect(classifyCommand("scp -f /etc/hosts")).toMatchObject({ kind: "read", unmaskable: "transfer" });
    expect(classifyCommand("cat /etc/hosts").unmaskable).toBeUndefined();
  });

  it("keeps the exact text and action", () => {
    expect(classifyCommand("uptime")).toEqual({ action: "exec", kind: "read", tables: [], functions: [], text: "uptime" });
  });
});
