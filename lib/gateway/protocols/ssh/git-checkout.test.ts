import { describe, expect, it } from "vitest";
import { classifyCommand } from "./classify";

const kind = (line: string) => classifyCommand(line).kind;

describe("git writes names that come from commits", () => {
  it("a checkout into a directory above persistence paths is admin; into a project a write", () => {
    for (const line of ["git pull", "git -C ~ pull origin main", "git --work-tree=/home/u checkout main -- .", "git merge origin/main", "git reset --hard origin/main", "git stash pop"]) {
      expect(kind(line), line).toBe("admin");
    }
    for (const line of ["git -C project pull", "git -C /srv/app/repo checkout main", "git -C repo -C sub merge x", "git fetch origin", "git commit -m x", "git -C repo push"]) {
      expect(kind(line), line).toBe("write");
    }
  });

  it("clone: its directory, named or taken from the URL, is judged", () => {
    for (const line of ["git clone host:/r/.ssh.git", "git clone file:///r/bin.git", "git clone --depth 1 /r/.ssh.git", "git clone https://x/r.git .config", "git clone https://x/r.git ~"]) {
      expect(kind(line), line).toBe("admin");
    }
    for (const line of ["git clone https://github.com/x/repo.git", "git clone host:/r/app.git app", "git clone --depth 1 /r/app.git"]) expect(kind(line), line).toBe("write");
  });
});
