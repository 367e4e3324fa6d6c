import type { PolicyProblem } from "@/lib/gateway/policy/compile";
import { findInvisible } from "@/lib/util/reveal-invisible";

/**
 * Policy text is code that reviewers read in the editor and in version diffs. A bidirectional
 * control reorders what they see ("Trojan Source", CVE-2021-42574: a `forbid` that reads as
 * commented out, a string that reads as another); a zero-width character makes two names look
 * the same. Cedar accepts both inside strings and comments, so Gatehouse refuses them in the
 * text it saves and flags them while it is edited. Right-to-left letters themselves are fine.
 */
export function hiddenCharacterProblem(text: string): PolicyProblem | null {
  const hit = findInvisible(text);
  if (!hit) return null;
  return {
    severity: "error",
    message: `the policy text contains ${hit.codePoint}, an invisible or text-direction character: it would make the policy read differently from how it runs`,
    help: "remove it (the editor and diffs show such characters as ⟦U+....⟧)",
    line: hit.line,
    column: hit.column,
  };
}
