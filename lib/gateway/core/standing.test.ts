import { describe, expect, it, vi } from "vitest";
import { revocationReason, StandingDecisions, type Revocation, type Standing } from "./standing";
import type { ClassifiedRequest, Verdict } from "./types";

const request = (text: string): ClassifiedRequest => ({ action: "exec", kind: "interactive", tables: [], functions: [], text });
const allow: Verdict = { type: "allow", policies: ["exec"] };
const deny: Verdict = { type: "deny", reason: "shells are closed", policies: ["no-shells"] };
const hold = (maskRuleSets: string[] = []): Verdict => ({ type: "hold", requirement: { approverGroups: ["approvers"], minApprovals: 1 }, maskRuleSets, policies: ["h"] });
const mask = (ruleSets: string[]): Verdict => ({ type: "mask", ruleSets, policies: ["m"] });

describe("revocationReason", () => {
  const plain = { approved: false, ruleSets: [] };
  const approvers1 = { approverGroups: ["approvers"], minApprovals: 1 };
  const approved = { approved: true, approvedUnder: approvers1, ruleSets: ["pii"] };

  it("keeps what policy still allows, ends what it denies with the policy's reason", () => {
    expect(revocationReason(plain, allow)).toBeNull();
    expect(revocationReason(plain, deny)).toBe("shells are closed");
    expect(revocationReason(approved, deny)).toBe("shells are closed");
  });

  it("a hold ends what opened without an approval; what an approval opened stands", () => {
    expect(revocationReason(plain, hold())).toBe("it now needs an approval");
    expect(revocationReason(approved, hold(["pii"]))).toBeNull();
  });

  it("what an approval opened ends when the hold now asks for other or more approvers; a looser hold keeps it", () => {
    const held = (approverGroups: string[], minApprovals: number): Verdict => ({ type: "hold", requirement: { approverGroups, minApprovals }, maskRuleSets: ["pii"], policies: ["h"] });
    const stricter = "it now needs another approval than the one it was opened with";
    expect(revocationReason(approved, held(["approvers"], 2))).toBe(stricter);
    expect(revocationReason(approved, held(["security"], 1))).toBe(stricter);
    expect(revocationReason(approved, held(["approvers", "security"], 1))).toBeNull();
    // approved, but what it was approved under is not known: it covers no hold (fail closed)
    expect(revocationReason({ approved: true, ruleSets: ["pii"] }, held(["approvers"], 1))).toBe(stricter);
  });

  it("masking it was not opened under ends it; less or equal masking does not", () => {
    expect(revocationReason(plain, mask(["pii"]))).toBe("masking (pii) now applies to it");
    expect(revocationReason(approved, mask(["pii", "secrets"]))).toBe("masking (secrets) now applies to it");
    expect(revocationReason(approved, hold(["pii", "cards"]))).toBe("masking (cards) now applies to it");
    expect(revocationReason(approved, mask([]))).toBeNull();
    expect(revocationReason(approved, allow)).toBeNull();
  });

  it("masking does not concern what carries no masked stream (a session, a forward); denial and holds still do", () => {
    const unmasked = { approved: false, ruleSets: null };
    expect(revocationReason(unmasked, mask(["pii"]))).toBeNull();
    expect(revocationReason({ approved: true, approvedUnder: approvers1, ruleSets: null }, hold(["pii"]))).toBeNull();
    expect(revocationReason(unmasked, hold())).toBe("it now needs an approval");
    expect(revocationReason(unmasked, deny)).toBe("shells are closed");
  });
});

function harness(answer: (text: string) => Verdict | Promise<Verdict>) {
  const revoked: string[] = [];
  const recorded: Revocation[] = [];
  let asked = 0;
  const decisions = new StandingDecisions(
    async (req) => {
      asked++;
      return answer(req.text);
    },
    (r) => recorded.push(r),
  );
  const add = (text: string, extra: Partial<Standing> = {}, decidedAt = decisions.epoch) =>
    decisions.add({ request: request(text), shown: text, requestSeq: text.length, approved: false, ruleSets: [], revoke: (reason) => revoked.push(`${text}: ${reason}`), ...extra }, decidedAt);
  return { decisions, add, revoked, recorded, asked: () => asked };
}

describe("StandingDecisions", () => {
  it("revokes exactly the entries policy no longer allows, once, recording why", async () => {
    const h = harness((text) => (text === "b" ? deny : allow));
    h.add("a");
    h.add("b");
    await h.decisions.recheck("policy version 2 was installed");
    expect(h.revoked).toEqual(["b: shells are closed"]);
    expect(h.recorded).toEqual([expect.objectContaining({ cause: "policy version 2 was installed", verdict: deny, reason: "shells are closed" })]);
    expect(h.decisions.size).toBe(1);
    await h.decisions.recheck("again");
    expect(h.revoked).toHaveLength(1);
  });

  it("fails closed: a decision that throws ends the entry", async () => {
    const h = harness(() => {
      throw new Error("database unavailable");
    });
    h.add("a");
    await h.decisions.recheck("grant revoked");
    expect(h.revoked).toEqual(["a: it could not be decided again (database unavailable)"]);
    expect(h.recorded[0].verdict).toBeNull();
  });

  it("forgets released entries and everything once cleared", async () => {
    const h = harness(() => deny);
    const release = h.add("a");
    release();
    h.add("b");
    h.decisions.clear();
    await h.decisions.recheck("x");
    expect(h.revoked).toEqual([]);
    expect(h.asked()).toBe(0);
  });

  it("does not overlap passes: changes during a pass run one more pass, decided on the latest inputs", async () => {
    let current: Verdict = allow;
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let first = true;
    const h = harness(async () => {
      const inputs = current; // what the decision read before it was slow
      if (first) {
        first = false;
        await gate;
      }
      return inputs;
    });
    h.add("a");
    const one = h.decisions.recheck("first");
    current = deny;
    const two = h.decisions.recheck("second");
    const three = h.decisions.recheck("third");
    release();
    await Promise.all([one, two, three]);
    expect(h.asked()).toBe(2); // the first pass and one more for both later causes
    expect(h.recorded.map((r) => r.cause)).toEqual(["third"]);
  });

  it("a revocation that throws does not spare the entry or stop the others", async () => {
    const h = harness(() => deny);
    const errors = vi.spyOn(console, "error").mockImplementation(() => {});
    h.add("a", {
      revoke: () => {
        throw new Error("Not connected");
      },
    });
    h.add("b");
    await expect(h.decisions.recheck("policy")).resolves.toBeUndefined();
    expect(h.revoked).toEqual(["b: shells are closed"]);
    expect(h.decisions.size).toBe(0);
    expect(errors).toHaveBeenCalledTimes(1);
    errors.mockRestore();
  });

  it("what was decided before a change and registers after it is decided again at once", async () => {
    let current: Verdict = allow;
    const h = harness(() => current);
    const decidedAt = h.decisions.epoch; // decided, then waited for the upstream...
    current = deny;
    await h.decisions.recheck("policy"); // ...while the policy changed
    h.add("late", {}, decidedAt);
    await vi.waitFor(() => expect(h.revoked).toEqual(["late: shells are closed"]));
    expect(h.recorded[0].cause).toBe("what it was decided on changed while it opened");
    h.add("current"); // decided on the latest inputs: not decided again
    await Promise.resolve();
    expect(h.asked()).toBe(1);
  });

  it("a change announced right as a recheck finishes starts a new one", async () => {
    let current: Verdict = allow;
    const h = harness(() => current);
    h.add("a");
    const first = h.decisions.recheck("one");
    void first.then(() => {
      current = deny;
      void h.decisions.recheck("two");
    });
    await first;
    await vi.waitFor(() => expect(h.revoked).toEqual(["a: shells are closed"]));
  });

  it("previews what another policy would end without ending or recording anything", () => {
    const h = harness(() => allow);
    h.add("a");
    h.add("b", { approved: true, approvedUnder: { approverGroups: ["approvers"], minApprovals: 1 } });
    h.add("c");
    const preview = h.decisions.preview((req) => {
      if (req.text === "c") throw new Error("engine disposed");
      return hold();
    });
    expect(preview.map((p) => [p.standing.request.text, p.reason])).toEqual([
      ["a", "it now needs an approval"],
      ["c", "it could not be decided (engine disposed)"],
    ]);
    expect(h.revoked).toEqual([]);
    expect(h.recorded).toEqual([]);
    expect(h.decisions.size).toBe(3);
  });

  it("an entry revoked by an earlier one's revocation (the session ending) is not decided", async () => {
    const h = harness((text) => (text === "connect" ? deny : allow));
    h.add("connect", { revoke: () => h.decisions.clear() });
    h.add("shell");
    await h.decisions.recheck("groups changed");
    expect(h.asked()).toBe(1);
  });
});
