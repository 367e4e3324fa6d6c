import { execFileSync, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { apiCall, type GatehouseProcess, login, startGatehouse, teardown } from "../support/gatehouse";
import { addConnection, addUser, putPolicies, sshUpstream } from "../support/api-fixture";
import { ssh2Connect, type Ssh2Client } from "../support/ssh-client";
import { ensureLogin } from "../support/ssh-home-user";
import { startSshd, type Sshd } from "../support/sshd";

/**
 * Generative hunt for exec lines that the SSH gateway runs as a `read` although they change the
 * host. The connection's policy permits `connect` and only exec requests of kind `read`, so every
 * line either is refused (exit 126, "denied" on stderr; a hold would count as refused and is given
 * up) or runs — and then the host must be exactly as before: a scratch tree in the login's home
 * (files, subdirectories, a symlink, an executable script, a git repo, a config-looking file, a tar
 * archive), the home's dotfiles and ~/.ssh, the home's other top-level names, the login's crontab
 * and the /tmp names the grammar can write are fingerprinted directly on the host (names, types,
 * sizes, modes, mtimes, contents, link targets) before and after each line. A line that changed
 * the host is recorded and the host restored, so one bypass does not mask the next.
 *
 * fast-check composes lines from read-looking programs and the shell features and options that
 * write: redirections of every spelling, tee, sed -i/w/e, awk, find -delete/-fprint/-exec, xargs,
 * sort -o, uniq/xxd in out, tar, git, ss -D, wrappers (env, nice, timeout, nohup, command, exec,
 * stdbuf), shells (sh -c, eval, substitutions), quoting tricks, expansions, connectors, cd, a pty.
 *
 * Runs: GH_SSH_WRITE_PROP_RUNS (default 500, ~30-50 s); GH_SSH_WRITE_PROP_SEED; GH_SSH_WRITE_PROP_COLLECT=1
 * keeps going past a bypass and lists them all. Left out of the fingerprint: `.git/index` and the
 * mtime of `.git` itself, which `git status` refreshes through index.lock (stat data only) as a
 * read — noted, not a bypass.
 *
 * The login is this file's own (`gh-ssh-wp`, /home/gh-ssh-wp), not the shared `gh-ssh-test`: other
 * suites running at the same time in other workers log in as that one, and what their sessions
 * write in its home (histories, ~/.Xauthority, probes) would read as a bypass here, or be deleted
 * by restore(). In a home and crontab no one else uses, every change is this file's doing.
 */
const RUNS = Number(process.env.GH_SSH_WRITE_PROP_RUNS ?? 500);
const SEED = process.env.GH_SSH_WRITE_PROP_SEED ? Number(process.env.GH_SSH_WRITE_PROP_SEED) : undefined;

const POLICY = `
@id("wp-connect")
permit (principal, action == Gatehouse::Action::"connect", resource);

@id("wp-read-exec")
permit (principal, action == Gatehouse::Action::"exec", resource)
when { context.request.kind == "read" };
`;

/** This file's own upstream login (ensureLogin; the sshd allows it besides its default user). */
const LOGIN = { name: "gh-ssh-wp", home: "/home/gh-ssh-wp", password: "gh-ssh-wp-Pw-6093" } as const;
const TAG = `ghwp-${process.pid}`;
const HOME = LOGIN.home;
const S = `${HOME}/${TAG}`; // the scratch tree
const T = `/tmp/${TAG}`; // prefix of the /tmp names the grammar writes
const TEMPLATE = `/tmp/${TAG}-pristine`; // root-only copy of the scratch tree, to restore it

/** Lines that once ran as reads and changed the host (minimized): each must now be refused. */
const REGRESSIONS: [string, string][] = [
  ["a quoted redirection target spelled like a descriptor", `cd ${S} && echo x >'&1'`],
  ["a backslash-escaped one", `cd ${S} && echo x >\\&2`],
  ["`>&1x` is a file named 1x, not descriptor 1", `cd ${S} && echo x >&1x`],
  ["xxd -C is a flag: xxd -C in out writes out", `xxd -C ${S}/f1 ${S}/xout`],
  ["ss -D FILE dumps sockets into FILE", `ss -t -D ${S}/ssdump`],
  ["tar --index-file writes the listing", `tar -tf ${S}/a.tar --index-file=${S}/idx`],
  ["tar -cft: t is f's value, the mode is c", `tar -cft ${S}/t.tar ${S}/f1`],
  ["tar --file VALUE that looks like -t", `tar --file -t -c -C ${S} f1`],
  ["nohup on a terminal appends to nohup.out", `tty:cd ${S} && nohup echo x`],
  ["a cd's redirection is opened all the same", `cd ${S} > ${S}/new`],
  ["git reflog pages on a terminal: less runs !cmd", `tty:git -C ${S}/repo reflog`],
  ["git config --list pages on a terminal", `tty:git -C ${S}/repo config --list`],
  ["git config --get-regexp pages on a terminal", `tty:git -C ${S}/repo config --get-regexp .`],
  ["tar -M on a truncated archive prompts on stdin; `!` spawns a shell", `tar -tMf ${S}/part.tar`],
];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------- host fingerprint (read as root)

type Print = Map<string, string>;

function walk(into: Print, p: string, recurse: boolean, skip: (p: string) => boolean = () => false) {
  let st: fs.Stats;
  try {
    st = fs.lstatSync(p);
  } catch {
    return;
  }
  if (skip(p)) return;
  const head = `${st.mode.toString(8)} ${st.uid}:${st.gid} ${st.mtimeMs}`;
  if (st.isSymbolicLink()) into.set(p, `${head} -> ${fs.readlinkSync(p)}`);
  else if (st.isFile()) into.set(p, `${head} ${st.size} ${createHash("sha256").update(fs.readFileSync(p)).digest("hex")}`);
  else if (st.isDirectory()) {
    into.set(p, head);
    if (recurse) for (const n of fs.readdirSync(p).sort()) walk(into, path.join(p, n), true, skip);
  } else into.set(p, `${head} special`);
}

function fingerprint(): Print {
  const fp: Print = new Map();
  walk(fp, S, true, (p) => p === `${S}/repo/.git/index`);
  const git = `${S}/repo/.git`; // index.lock came and went: the directory's mtime, not a bypass
  if (fp.has(git)) fp.set(git, fp.get(git)!.replace(/ [0-9.]+$/, ""));
  for (const n of fs.readdirSync(HOME)) {
    if (n === TAG) continue;
    // dotfiles with contents, ~/.ssh and ~/.config whole; other names: that they exist
    const full = path.join(HOME, n);
    if (n.startsWith(".")) walk(fp, full, n === ".ssh" || n === ".config" || n === ".local");
    else fp.set(full, "exists");
  }
  for (const n of fs.readdirSync("/tmp")) if (n.startsWith(TAG) && !n.startsWith(`${TAG}-pristine`)) walk(fp, `/tmp/${n}`, true);
  const cron = spawnSync("crontab", ["-u", LOGIN.name, "-l"], { encoding: "utf8" });
  fp.set("crontab", cron.status === 0 ? cron.stdout : "none");
  return fp;
}

function difference(a: Print, b: Print): string[] {
  const out: string[] = [];
  for (const [k, v] of a) if (b.get(k) !== v) out.push(b.has(k) ? `changed ${k}` : `removed ${k}`);
  for (const k of b.keys()) if (!a.has(k)) out.push(`created ${k}`);
  return out;
}

let homeSaved: Map<string, { data: Buffer; mode: number; mtime: Date; uid: number; gid: number }>;

/** Puts the scratch tree, the home's dotfiles, the /tmp names and the crontab back as they were. */
function restore(before: Print) {
  fs.rmSync(S, { recursive: true, force: true });
  execFileSync("cp", ["-a", `${TEMPLATE}/tree`, S]);
  for (const n of fs.readdirSync("/tmp")) if (n.startsWith(TAG) && !n.startsWith(`${TAG}-pristine`)) fs.rmSync(`/tmp/${n}`, { recursive: true, force: true });
  for (const n of fs.readdirSync(HOME)) {
    const full = path.join(HOME, n);
    if (n === TAG) continue;
    if (![...before.keys()].some((k) => k === full || k.startsWith(`${full}/`))) fs.rmSync(full, { recursive: true, force: true });
  }
  for (const [file, saved] of homeSaved) {
    fs.writeFileSync(file, saved.data);
    fs.chownSync(file, saved.uid, saved.gid);
    fs.chmodSync(file, saved.mode);
    fs.utimesSync(file, saved.mtime, saved.mtime);
  }
  if (before.get("crontab") === "none") spawnSync("crontab", ["-u", LOGIN.name, "-r"]);
}

// ---------------------------------------------------------------- the grammar

const FILES = ["f1", "sub/f2", "link", "run.sh", "app.conf", "repo/README"];
const NEW = ["new", "sub/new", "out", "1x", "&1", "nohup.out", "t.tar"];
/** How a path is spelled: absolute, through ~ or $HOME, relative after a cd, or in /tmp. */
const spelled = (name: string) =>
  fc.constantFrom(`${S}/${name}`, `~/${TAG}/${name}`, `$HOME/${TAG}/${name}`, `\${HOME}/${TAG}/${name}`, `${T}-${name.replace(/\W/g, "_")}`, `'${S}/${name}'`);
const existing = fc.constantFrom(...FILES).chain(spelled);
const target = fc.constantFrom(...FILES, ...NEW).chain(spelled);

/** Programs that look like reads, with a file. */
const reads = (f: string) => [
  `cat ${f}`, `head -n1 ${f}`, `tail -c5 ${f}`, `ls -la ${f}`, `grep -n . ${f}`, `wc -l ${f}`, `sort ${f}`, `uniq ${f}`,
  `xxd ${f}`, `od -c ${f}`, `stat ${f}`, `md5sum ${f}`, `base64 ${f}`, `diff ${f} ${S}/f1`, `cmp ${f} ${S}/f1`, `sed -n 1p ${f}`,
  `tac ${f}`, `rev ${f}`, `cut -c1-3 ${f}`, `less ${f}`, `more ${f}`, `file ${f}`, `readlink -f ${f}`, `du -s ${f}`, `jq . ${f}`,
  `echo ${f}`, `printf '%s\\n' ${f}`, `test -f ${f}`, `[ -e ${f} ]`, `type cat`, `date +%s`, `id`, `pwd`, `ps -o pid=`, `uname -a`,
  `find ${S} -name f1`, `tar -tf ${S}/a.tar`, `git -C ${S}/repo log --oneline`, `git -C ${S}/repo status --short`,
  `git -C ${S}/repo branch`, `git -C ${S}/repo tag`, `git -C ${S}/repo show HEAD:README`, `git -C ${S}/repo config user.name`,
  `ss -tln`, `journalctl -n1 --no-pager`, `nohup true`, `env ls ${S}`,
  `grep -r alpha ${S}`, `zcat -f ${f}`, `head -c1 ${f} ${f}`, `tail -n+1 ${f}`, `stat -c %s ${f}`, `wc --files0-from=/dev/null`, `hexdump -C ${f}`,
  `column -t ${f}`, `fold -w2 ${f}`, `nl ${f}`, `paste ${f} ${f}`, `comm ${f} ${f}`, `join ${f} ${f}`, `seq 3`, `yes | head -1`, `top -bn1 | head -1`,
  `free -h`, `lsof ${f}`, `getent passwd root`, `locale`, `which ls`, `type -a ls`, `id -u`, `w`, `who`, `tty`, `echo -e 'a\tb'`, `cal`,
  `git -C ${S}/repo rev-parse HEAD`, `git -C ${S}/repo ls-files`, `git -C ${S}/repo cat-file -p HEAD`, `git -C ${S}/repo describe --always`,
  `git -C ${S}/repo reflog`, `git -C ${S}/repo remote -v`, `git -C ${S}/repo shortlog -s HEAD`, `git -C ${S}/repo grep alpha`, `git -C ${S}/repo diff`,
  `git -C ${S}/repo blame README`, `git -C ${S}/repo config --list`, `git --git-dir=${S}/repo/.git log -1`, `git -C ${S}/repo tag -l`,
  `git -C ${S}/repo config -l`, `git -C ${S}/repo config --get-regexp .`, `git -C ${S}/repo config --get-all user.name`, `git -C ${S}/repo reflog show`, `git -C ${S}/repo --no-pager log`, `dmesg -H`, `journalctl -n1`, `cd ${S} 2>/dev/null`,
  `sed -n -e 1p -e 2p ${f}`, `sed 's/a/b/g;p' ${f}`, `sed -E 's/(a)/\\1/' ${f}`, `sed '1!G;h;$!d' ${f}`, `sed = ${f}`, `sed -s -n '$p' ${f} ${f}`,
  `tar -tvf ${S}/a.tar`, `tar tvf ${S}/a.tar`, `tar --list --file=${S}/a.tar`, `sort -u -k1,1 ${f}`, `sort -t: -k2 ${f}`, `uniq -c ${f}`, `xxd -ps ${f}`,
  `crontab -l`, `dmesg -F ${f}`, `date -r ${f}`, `md5sum -c /dev/null`, `file -m /dev/null ${f}`, `find ${S} -type f -newer ${f}`, `find ${S} -printf '%p\n'`,
];

/** Lines that write (or run something) in a way the grammar knows: `w` is where, `f` an existing file. */
const writes = (f: string, w: string) => [
  `echo x > ${w}`, `echo x >> ${w}`, `echo x >| ${w}`, `echo x &> ${w}`, `echo x &>> ${w}`, `ls 2> ${w}`, `cat <> ${w}`, `echo x 3> ${w}`,
  `echo x 1>${w}`, `cat ${f} >${w} 2>&1`, `echo x >/dev/null >${w}`, `echo x >&2 >${w}`, `cat<<<x >${w}`, `tee ${w} < ${f}`, `cat ${f} | tee -a ${w}`,
  `sed -i s/a/b/ ${f}`, `sed -n 'w ${w}' ${f}`, `sed 's/a/b/w ${w}' ${f}`, `sed '1e touch ${w}' ${f}`, `sed --in-place=.b 1d ${f}`, `sed -ni p ${f}`,
  `awk '{print > "${w}"}' ${f}`, `awk 'BEGIN{system("touch ${w}")}'`, `find ${S}/sub -name new -delete`, `find ${S} -maxdepth 0 -fprint ${w}`,
  `find ${S} -maxdepth 0 -fls ${w}`, `find ${S} -maxdepth 0 -exec touch ${w} ';'`, `echo ${w} | xargs touch`, `echo ${f} | xargs rm`,
  `sort -o ${w} ${f}`, `sort --output=${w} ${f}`, `sort ${f} -o${w}`, `uniq ${f} ${w}`, `xxd ${f} ${w}`, `xxd -C ${f} ${w}`, `xxd -u ${f} ${w}`,
  `xxd -r ${f} ${w}`, `cp ${f} ${w}`, `mv ${f} ${w}`, `rm ${f}`, `touch ${w}`, `mkdir ${w}`, `ln -s ${f} ${w}`, `chmod 600 ${f}`,
  `truncate -s0 ${f}`, `dd if=${f} of=${w}`, `install ${f} ${w}`, `split ${f} ${w}`, `tar -cf ${w} -C ${S} f1`, `tar -xf ${S}/a.tar -C ${S}/sub`,
  `tar -tf ${S}/a.tar --index-file=${w}`, `tar -cft ${w} -C ${S} f1`, `tar -Cx -xf ${S}/a.tar`, `tar --file -t -c -C ${S} f1`,
  `git -C ${S}/repo log --output=${w}`, `git -C ${S}/repo branch nb`, `git -C ${S}/repo tag t9`, `git -C ${S}/repo reflog expire --all --expire=now`,
  `git -C ${S}/repo config x.y z`, `git -C ${S}/repo -c core.pager='touch ${w}' log`, `git -C ${S}/repo stash`, `git -C ${S}/repo gc`,
  `git -C ${S}/repo diff --output ${w}`, `git -C ${S}/repo branch --list x -m y`, `ss -t -D ${w}`, `ss --diag=${w}`, `journalctl -n1 --cursor-file=${w}`,
  `less -o ${w} ${f}`, `perl -e 'open F,">${w}"'`, `python3 -c 'open("${w}","w")'`, `curl -so ${w} file://${S}/f1`, `wget -qO ${w} http://127.0.0.1:1/`,
  `echo '* * * * * true' | crontab -`, `crontab -r`, `script -qc true ${w}`, `rsync ${f} ${w}`, `date -s 2020-01-01`, `hostname h`, `touch -d 2001-01-01 ${f}`, `cat ${f} > ${w} || true`,
  // more spellings of the same writes
  `echo x {fd}>${w}`, `echo x 9>>${w}`, `cat ${f} 1<>${w}`, `echo x >&2 2>${w}`, `echo x 2>${w} >&2`, `>${w}`, `>${w} echo x`, `echo x;>${w}`,
  `echo x >${w} #`, `echo x>${w}`, `echo x >"${w}"`, `ls |& tee ${w}`, `echo x >& ${w}`, `echo x >&${w}`, `exec 3>${w}`, `exec >${w}; ls`, `! echo x > ${w}`,
  `{echo,x} > ${w}`, `true > ${w}`, `[[ -f x ]] > ${w}`, `((1)) > ${w}`, `time -p ls > ${w}`, `builtin echo x > ${w}`, `history -w ${w}`, `source ${S}/run.sh`,
  `. ${S}/run.sh`, `${S}/run.sh`, `trap 'touch ${w}' EXIT; ls`, `read x < ${f}; echo $x > ${w}`, `umask 0; touch ${w}`, `pushd ${S}; > ${w}`,
  `sed -e 'a\\' -e 'w ${w}' ${f}`, `sed --expression='w ${w}' ${f}`, `sed -n -e p -e 'w${w}' ${f}`, `sed 's/x/y/;w ${w}' ${f}`, `sed '$!N;w ${w}' ${f}`,
  `sed -n '/a/,/b/w ${w}' ${f}`, `sed 1!G\\;h\\;\\$w${w} ${f}`, `sed 's|a|b|w ${w}' ${f}`, `sed '1{w ${w}\n}' ${f}`, `sed -n "1 w ${w}" ${f}`, `sed 'W ${w}' ${f}`,
  `sed -n 'y/a/b/;w ${w}' ${f}`, `sed -E 's/(a)/\\1/w ${w}' ${f}`, `sed 'v;w ${w}' ${f}`, `sed -z 'w ${w}' ${f}`, `sed -i.bak 1p ${f}`, `sed -si 1p ${f}`,
  `sed -n '1{e touch ${w}\n}' ${f}`, `sed 's/.*/touch ${w}/e' ${f}`, `sed 's/a/b/3w ${w}' ${f}`, `sed --in 1p ${f}`, `sed -E -i -e p ${f}`, `sed p ${f} -i`,
  `git -C ${S}/repo --no-pager log --output=${w}`, `git -C ${S}/repo log -1 --outp=${w}`, `git -C ${S}/repo tag -l -d x`, `git -C ${S}/repo describe --dirty`,
  `git -C ${S}/repo config --file ${w} a.b c`, `git -C ${S}/repo grep -O'touch ${w}' alpha`, `git -C ${S}/repo grep --open-files-in-pager='touch ${w}' a`,
  `git -C ${S}/repo branch -l --set-upstream-to=x`, `git -C ${S}/repo branch --contains HEAD nb`, `git -C ${S}/repo remote add x y`, `git -C ${S}/repo tag -a -m x t8`,
  `git -C ${S}/repo config --add a.b c`, `git -C ${S}/repo config --unset user.name`, `git -C ${S}/repo reflog delete HEAD@{0}`, `git -C ${S}/repo notes add -m x`,
  `git -C ${S}/repo show --output=${w}`, `git -C ${S}/repo diff --no-index ${f} ${S}/f1 --output=${w}`, `git -C ${S}/repo update-ref refs/heads/x HEAD`,
  `find ${S} -maxdepth 0 -fprint0 ${w}`, `find ${S} -maxdepth 0 -fprintf ${w} %p`, `find ${S} -maxdepth 0 -execdir touch ${w} ';'`, `find ${S}/sub -name f2 -o -delete`,
  `sort -mo ${w} ${f}`, `sort -uo${w} ${f}`, `sort --out=${w} ${f}`, `sort -k1 -o ${w} ${f}`, `sort -T ${S}/sub -S 1 ${f}`,
  `uniq -c ${f} ${w}`, `uniq -f 1 ${f} ${w}`, `uniq --skip-fields=1 ${f} ${w}`, `uniq -- ${f} ${w}`, `uniq -D ${f} ${w}`, `uniq --group ${f} ${w}`,
  `xxd -i ${f} ${w}`, `xxd -ps ${f} ${w}`, `xxd -s 1 ${f} ${w}`, `xxd -b ${f} ${w}`, `xxd -e ${f} ${w}`, `xxd -d ${f} ${w}`, `xxd -E ${f} ${w}`, `xxd -a ${f} ${w}`,
  `xxd -n x ${f} ${w}`, `xxd -u -C ${f} ${w}`, `xxd -c8 -C ${f} ${w}`, `xxd -cols 8 ${f} ${w}`, `xxd -len 4 ${f} ${w}`,
  `tar -t -f ${S}/a.tar -g ${w}`, `tar -tvf ${S}/a.tar --volno-file=${w}`, `tar -tf ${S}/a.tar --to-command='touch ${w}'`, `tar --list --file=${S}/a.tar --index-file ${w}`,
  `tar -tf ${S}/a.tar --checkpoint=1 --checkpoint-action=exec='touch ${w}'`, `tar -tf ${S}/a.tar -C ${S}/sub -x`, `tar tf ${S}/a.tar -r ${f}`, `tar -tRf ${S}/a.tar --delete f1`,
  `tar -tf ${S}/a.tar --remove-files`, `tar -vtf ${S}/a.tar -c ${f}`, `tar -tvvf ${S}/a.tar -u ${f}`, `tar -tvf${S}/a.tar -A ${S}/a.tar`, `tar -t --file ${S}/a.tar --append ${f}`,
  `tar -tMf ${S}/part.tar`, `tar tMf ${S}/part.tar`, `tar -t --multi-volume -f ${S}/part.tar`, `tar -tvf ${S}/part.tar`, `tar -tf ${S}/a.tar --ind=${w}`, `tar -Tf ${S}/a.tar -t`, `tar -tzf ${S}/a.tar -xk`, `tar -tOf ${S}/a.tar > ${w}`,
  `env -i ${f}`, `env -u X touch ${w}`, `env -C ${S} touch new`, `env -- touch ${w}`, `timeout -s KILL 5 touch ${w}`, `timeout --foreground 5 touch ${w}`, `stdbuf -oL tee ${w}`,
  `ionice -c3 touch ${w}`, `command -p touch ${w}`, `xargs -0 touch < ${f}`, `xargs -n1 -a ${f} touch`, `echo ${w} | xargs -I{} touch {}`,
  `lsof +m ${w}`, `lsof -m ${w}`, `ss -tD ${w}`, `ss -K`, `dmesg -C`, `journalctl --cursor-file ${w} -n1`, `date --set=x`, `hostname -F ${f}`,
  `file -C -m ${f}`, `rg --pre 'touch ${w}' x ${S}`, `cd ${S} > ${w}`, `cd . 2>${w}`, `cd ${S}/sub >>${w} && ls`, `less -O ${w} ${f}`, `more ${f} > ${w}`, `column -t ${f} > ${w}`,
];

/** Turns a simple line into another spelling the shell runs the same way. */
const disguise = (line: string) =>
  fc.constantFrom(
    line,
    `env ${line}`, `nice ${line}`, `nice -n 5 ${line}`, `timeout 5 ${line}`, `nohup ${line}`, `command ${line}`, `exec ${line}`,
    `stdbuf -o0 ${line}`, `time ${line}`, `LANG=C ${line}`, `PATH=/usr/bin:/bin ${line}`, `bash -c ${sq(line)}`, `sh -c ${sq(line)}`,
    `eval ${sq(line)}`, `echo $(${line})`, `echo \`${line}\``, `cat <(${line})`, `( ${line} )`, `{ ${line}; }`, `f(){ ${line}; }; f`,
    `alias q=${sq(line)}; q`, `${line} &`, `true && ${line}`, `false || ${line}`, `true; ${line}`, `echo | ${line}`, `${line} | cat`,
    `cd ${S} && ${line}`, `cd ~/${TAG}/sub; ${line}`, `cd ${S} || exit; ${line}`,
    line.replace(/^(\w)(\w+)/, "\\$1\\$2"), line.replace(/^(\w)(\w+)/, "'$1''$2'"), line.replace(/^(\w)(\w+)/, '$1""$2'), line.replace(/^(\w+)/, "$'$1'"),
    line.replace(/ /, "${IFS}"), line.replace(/ > /, ">"), line.replace(/^(\w+)/, "/usr/bin/$1"),
  );
const sq = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** Fixed relative-name writes after `cd` (the names an fd-looking or glued word writes). */
const relative = fc.constantFrom(
  `cd ${S} && echo x >'&1'`, `cd ${S} && echo x >\\&2`, `cd ${S} && echo x >"&1"`, `cd ${S} && echo x >&1x`, `cd ${S} && echo x >&2new`,
  `cd ${S} && echo x 1>&1out`, `cd ${S} && echo x >& out`, `cd ${S} && echo x >&-new`, `cd ${S} && echo x>out`, `cd ${S}/sub && ls >new`,
  `cd ${S} && nohup echo x`, `cd ${S} && ls>&1x`, `cd ${S} && echo x >/dev/nul\\l`, `cd ${S} && echo x > '/dev/null' >out`,
);

const line = fc.oneof(
  { weight: 3, arbitrary: existing.chain((f) => fc.constantFrom(...reads(f))).chain(disguise) },
  { weight: 5, arbitrary: fc.tuple(existing, target).chain(([f, w]) => fc.constantFrom(...writes(f, w))).chain(disguise) },
  { weight: 1, arbitrary: relative },
  // two disguises deep (`env sh -c 'nice …'`)
  { weight: 1, arbitrary: fc.tuple(existing, target).chain(([f, w]) => fc.constantFrom(...reads(f), ...writes(f, w))).chain(disguise).chain(disguise) },
  {
    weight: 1,
    arbitrary: fc
      .tuple(existing, target, fc.constantFrom(";", "&&", "||", "|", "&", "\n"))
      .chain(([f, w, sep]) => fc.tuple(fc.constantFrom(...reads(f)), fc.constantFrom(...writes(f, w)), fc.constant(sep)))
      .map(([r, w, sep]) => `${r} ${sep} ${w}`),
  },
);
const command = fc.record({ line, tty: fc.constantFrom(false, false, false, false, true) });

// ---------------------------------------------------------------- the test

describe("SSH exec: a line the gateway runs as a read leaves the host unchanged", () => {
  let gh: GatehouseProcess;
  let sshd: Sshd;
  let admin = "";
  let member = "";
  let client: Ssh2Client;
  const counts = { ran: 0, refused: 0, held: 0 };
  const bypasses = new Map<string, string[]>();
  const refusedChanged = new Map<string, string[]>();

  async function connect() {
    client = await ssh2Connect({ port: gh.ports.ssh, user: "box", password: member });
  }

  /**
   * Runs one line on `via` (the gateway unless given): refused (126 + denied), held (given up), or
   * ran. On a pty it types a pager's shell escape (`!cmd`, as less runs it) and `q`: a "read" that
   * opens a pager on the terminal gives whoever types a shell.
   */
  async function run(cmd: string, tty: boolean, via?: Ssh2Client): Promise<{ outcome: "refused" | "held" | "ran"; code: unknown; stdout: string; stderr: string }> {
    if (!via && (!client || (client as any)._sock?.destroyed)) await connect();
    const c = via ?? client;
    const opened = await new Promise<any>((resolve) =>
      c.exec(cmd, tty ? { pty: { rows: 2, cols: 80, term: "xterm" } } : {}, (err, ch) => resolve(err ?? ch)),
    ).catch((e) => e);
    if (opened instanceof Error) {
      if (via) throw opened;
      await connect();
      return run(cmd, tty);
    }
    const ch = opened;
    let stderr = "";
    let stdout = "";
    let status: unknown = null;
    ch.on("data", (d: Buffer) => (stdout += d));
    ch.stderr.on("data", (d: Buffer) => (stderr += d));
    ch.on("exit", (code: number | null, signal?: string) => (status = code ?? signal ?? null));
    const closed = new Promise<void>((r) => ch.on("close", () => r()));
    if (tty) {
      ch.write(`!touch ${T}-pager\n`);
      await Promise.race([closed, sleep(400)]);
      ch.write("\nq");
    } else {
      // a prompt on stdin (tar -M's next volume) whose `!` spawns a shell: the reply, then a command
      ch.write("!\n");
      if (!(await Promise.race([closed.then(() => true), sleep(300).then(() => false)]))) ch.write(`touch ${T}-bang\nexit\n`);
    }
    ch.end(); // stdin EOF: nothing waits on it
    const done = await Promise.race([closed.then(() => true), sleep(12_000).then(() => false)]);
    if (tty) stderr += stdout; // a pty has one stream
    if (!done || /approv/i.test(stderr)) {
      // held (or hung): give it up; a pending approval is denied below
      ch.close();
      await Promise.race([closed, sleep(2000)]);
      if (!via) await denyPending();
      return { outcome: /approv/i.test(stderr) ? "held" : "ran", code: status, stdout, stderr };
    }
    if (status === 126 && /denied/i.test(stderr)) return { outcome: "refused", code: status, stdout, stderr };
    return { outcome: "ran", code: status, stdout, stderr };
  }

  async function denyPending() {
    const list = await apiCall(gh.url, admin, "GET", "/approvals?status=pending");
    for (const a of list.body.approvals ?? []) await apiCall(gh.url, admin, "POST", `/approvals/${a.id}/deny`, { reason: "write property" });
  }

  /** Runs `cmd` and checks the host; true when it was refused or changed nothing. */
  async function check(cmd: string, tty: boolean): Promise<boolean> {
    const before = fingerprint();
    const r = await run(cmd, tty);
    counts[r.outcome]++;
    if (process.env.GH_SSH_WRITE_PROP_DEBUG) console.log(JSON.stringify({ cmd, ...r }));
    // a background `&` may still be writing: give it a moment before comparing
    if (/&\s*$|& /.test(cmd) && r.outcome === "ran") await sleep(300);
    const changed = difference(before, fingerprint());
    if (changed.length === 0) return true;
    restore(before);
    const after = difference(before, fingerprint());
    if (after.length) throw new Error(`could not restore the host after ${JSON.stringify(cmd)}: ${after.join(", ")}`);
    if (r.outcome !== "ran") {
      // refused, yet something changed: no one else uses this login, so it is the gateway's doing
      refusedChanged.set(cmd, changed);
      return false;
    }
    bypasses.set(`${tty ? "tty:" : ""}${cmd}`, [...changed, `exit ${String(r.code)}, stderr ${JSON.stringify(r.stderr.slice(0, 200))}`]);
    return false;
  }

  beforeAll(async () => {
    ensureLogin(LOGIN);
    [gh, sshd] = await Promise.all([startGatehouse({ demo: false }), startSshd({ extraConfig: [`AllowUsers ${LOGIN.name}`] })]);
    admin = await login(gh.url, gh.adminEmail, gh.adminPassword);
    member = await addUser(gh, admin, "write-prop@example.test");
    await addConnection(gh, admin, "box", sshUpstream({ port: sshd.port, user: LOGIN.name, password: LOGIN.password }));
    await putPolicies(gh, admin, POLICY, "write property: connect and read-only exec");
    // The scratch tree, built as the login user.
    const sh = (script: string) => execFileSync("runuser", ["-u", LOGIN.name, "--", "bash", "-c", script], { cwd: "/", encoding: "utf8" });
    fs.rmSync(S, { recursive: true, force: true });
    sh(`set -e; mkdir -p ${S}/sub ${S}/repo; cd ${S}; printf 'alpha\\nbeta\\n' > f1; echo gamma > sub/f2; ln -s f1 link;
      printf '#!/bin/sh\\necho run\\n' > run.sh; chmod 755 run.sh; printf 'listen = 8080\\n[section]\\nkey = value\\n' > app.conf;
      tar -cf a.tar f1 sub; head -c 100000 /dev/zero > big; tar -cf whole.tar big; head -c 30720 whole.tar > part.tar; rm big whole.tar; cd repo; echo readme > README;
      if command -v git >/dev/null; then git init -q . && git add README && git -c user.name=p -c user.email=p@x commit -qm init; fi`);
    fs.rmSync(TEMPLATE, { recursive: true, force: true });
    fs.mkdirSync(TEMPLATE, { mode: 0o700 });
    execFileSync("cp", ["-a", S, `${TEMPLATE}/tree`]);
    homeSaved = new Map();
    for (const n of fs.readdirSync(HOME)) {
      const full = path.join(HOME, n);
      const st = fs.lstatSync(full);
      if (n.startsWith(".") && st.isFile()) homeSaved.set(full, { data: fs.readFileSync(full), mode: st.mode & 0o7777, mtime: st.mtime, uid: st.uid, gid: st.gid });
    }
    await connect();
    // the gateway answers a plain read, as this file's login
    const r = await run(`cat ${S}/f1; id -un; echo $HOME`, false);
    expect(r.outcome, r.stderr).toBe("ran");
    expect(r.stdout.split("\n"), r.stderr).toEqual(["alpha", "beta", LOGIN.name, HOME, ""]);
  }, 180_000);

  afterAll(async () => {
    client?.end();
    await teardown(gh, sshd);
    fs.rmSync(S, { recursive: true, force: true });
    fs.rmSync(TEMPLATE, { recursive: true, force: true });
    for (const n of fs.readdirSync("/tmp")) if (n.startsWith(TAG)) fs.rmSync(`/tmp/${n}`, { recursive: true, force: true });
  });

  it("control: straight to sshd, the typed escapes (a pager's !cmd, tar -M's !) run, so the hunt would see them", async () => {
    const direct = await ssh2Connect({ port: sshd.port, user: LOGIN.name, password: LOGIN.password });
    try {
      const before = fingerprint();
      await run(`git -C ${S}/repo reflog`, true, direct);
      expect(difference(before, fingerprint())).toContain(`created ${T}-pager`);
      restore(before);
      await run(`tar -tMf ${S}/part.tar`, false, direct);
      expect(difference(before, fingerprint())).toContain(`created ${T}-bang`);
      restore(before);
    } finally {
      direct.end();
    }
  });

  it.each(REGRESSIONS)("regression: %s", async (_what, spec) => {
    const tty = spec.startsWith("tty:");
    const cmd = tty ? spec.slice(4) : spec;
    const ok = await check(cmd, tty);
    expect(ok, `${JSON.stringify(cmd)} ran as a read and changed ${bypasses.get(spec)?.join(", ")}`).toBe(true);
  });

  it(`generated lines: refused, or ran and changed nothing (${RUNS} runs)`, async () => {
    const start = { ...counts };
    const collect = process.env.GH_SSH_WRITE_PROP_COLLECT === "1";
    const started = Date.now();
    await fc.assert(
      fc.asyncProperty(command, async ({ line: cmd, tty }) => {
        const ok = await check(cmd, tty);
        return collect || ok;
      }),
      { numRuns: RUNS, seed: SEED, endOnFailure: false, interruptAfterTimeLimit: Number(process.env.GH_SSH_WRITE_PROP_MS ?? 3_600_000) },
    ).catch((e) => {
      throw new Error(`${String(e).slice(0, 4000)}\nbypasses seen: ${JSON.stringify([...bypasses], null, 1)}`);
    });
    const ran = counts.ran - start.ran;
    const refused = counts.refused + counts.held - start.refused - start.held;
    console.log(`write property: ${RUNS} runs in ${Date.now() - started} ms: ran ${ran}, refused ${refused} (held ${counts.held - start.held})`);
    if (bypasses.size) console.log(`bypasses: ${JSON.stringify([...bypasses], null, 1)}`);
    expect([...bypasses.keys()]).toEqual([]);
    expect([...refusedChanged]).toEqual([]);
    // Not vacuous: reads ran, writes were refused. About a third of generated lines are refused
    // (167-173 of 500 over three seeds, so a standard deviation near 11); 0.3 failed once in CI at
    // 141. The bounds sit six deviations below, where only a generator that stopped making writes
    // (or reads) falls.
    expect(ran).toBeGreaterThan(RUNS * 0.4);
    expect(refused).toBeGreaterThan(RUNS * 0.2);
  }, 3_600_000);
});
