import { describe, expect, it } from "vitest";
import { looksLikePasswordPrompt } from "./terminal";

describe("password prompts in terminal output", () => {
  it.each([
    "[sudo] password for ops: ",
    "Password: ",
    'Enter new password for user "probe": ',
    "Enter it again: ",
    "Enter passphrase (empty for no passphrase): ",
    "Enter same passphrase again: ",
    "Enter PEM pass phrase:",
    "Verifying - Enter PEM pass phrase:",
    "Password (will be hidden): ",
    "Retype new password: ",
    "Enter PIN for 'token': ",
    "\x1b[1mPassword:\x1b[0m ",
    "output\r\nEnter it again: ",
  ])("%j asks for a secret", (tail) => expect(looksLikePasswordPrompt(tail)).toBe(true));

  it.each(["ops@box:~$ ", "postgres=# ", "password changed.\r\n$ ", "Continue? [y/N] ", "Pinned: 3\r\n> ", "spinning: "])("%j does not", (tail) => expect(looksLikePasswordPrompt(tail)).toBe(false));
});
