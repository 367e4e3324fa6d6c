/**
 * Commands that re-encode or cut up their output beat terminal masking (the reader turns the
 * output back): the classifier marks them `unmaskable`, which the core refuses where masking
 * applies. Ordinary reads stay maskable.
 */
import { describe, expect, it } from "vitest";
import { classifyCommand } from "./classify";

const unmaskable = (c: string) => classifyCommand(c).unmaskable === "transform";

describe("output transforms are unmaskable", () => {
  it.each([
    "rev cards.txt",
    "base64 cards.txt",
    "base64 -d blob",
    "xxd cards.txt",
    "od -c cards.txt",
    "hexdump -C cards.txt",
    "cat cards.txt | tr 0-9 a-j",
    "cat cards.txt | fold -w 1",
    "cut -c1-4 cards.txt",
    "head -c 8 cards.txt",
    "grep -o '[0-9]' cards.txt",
    "grep -rno x .",
    "sed y/0123456789/abcdefghij/ cards.txt",
    "sed -e 's/1/one/g' cards.txt",
    "sed -f script.sed cards.txt",
    "awk '{print $1}' cards.txt",
    "perl -pe 's/./$& /g' cards.txt",
    "python3 -c 'print(1)'",
    "jq -r '.card | explode' x.json",
    "gzip -c cards.txt",
    "tar czf - cards.txt",
    "tar -cf - dir",
    "openssl base64 -in cards.txt",
    "cat cards.txt | xargs -n1",
    // reflowed into columns: a value's groups land on different lines
    "cat cards.txt | column",
    "column -c 10 cards.txt",
    "pr -4 -t cards.txt",
    "pr --columns=3 cards.txt",
    // through wrappers, shells, sudo, find and watch
    "env LANG=C rev cards.txt",
    "timeout 5 base64 cards.txt",
    "nice -n 5 xxd cards.txt",
    "sh -c 'cat cards.txt | rev'",
    "bash -lc 'od -An -c cards.txt'",
    "sudo -u app rev cards.txt",
    "find . -name '*.txt' -exec rev {} \\;",
    "watch -n 1 rev cards.txt",
    "ls | xargs -I{} base64 {}",
    "echo $(rev cards.txt)",
    "cat `echo x` | base64",
  ])("%s", (c) => expect(unmaskable(c)).toBe(true));
});

describe("ordinary reads stay maskable", () => {
  it.each([
    "cat cards.txt",
    "grep 4111 cards.txt",
    "grep -rn rev .",
    "head -n 5 cards.txt",
    "tail -f app.log",
    "sed -n 1,5p cards.txt",
    "sed '/^#/d' config",
    "jq . x.json",
    "jq -r .name x.json",
    "gzip -d -c x.gz",
    "zcat x.gz",
    "tar tf x.tar",
    "sort cards.txt | uniq -c",
    "ls -la",
    "echo $(date)",
    "sudo cat /etc/hosts",
    "column -t -s, table.csv",
    "pr -t cards.txt",
  ])("%s", (c) => expect(unmaskable(c)).toBe(false));
});
