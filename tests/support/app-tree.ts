import fs from "node:fs";
import path from "node:path";
import { ROOT } from "./gatehouse";

/** The Next.js app directory, whose route handlers and pages the authorization tests enumerate. */
export const APP = path.join(ROOT, "app");

/** The app's route handlers (`route.ts`) or pages (`page.tsx`), each with the URL it serves ("/sessions/[id]"). */
export function appFiles(kind: "route" | "page"): { file: string; url: string }[] {
  const name = kind === "route" ? /^route\.tsx?$/ : /^page\.tsx$/;
  return (fs.readdirSync(APP, { recursive: true }) as string[])
    .filter((rel) => name.test(path.basename(rel)))
    .map((rel) => ({ file: path.join(APP, rel), url: urlOf(path.join(APP, rel)) }))
    .sort((a, b) => a.file.localeCompare(b.file));
}

/** The URL a file under app/ serves: its directories, without route groups ("(console)"). */
function urlOf(file: string): string {
  return "/" + path.relative(APP, path.dirname(file)).split(path.sep).filter((s) => s && !/^\(.*\)$/.test(s)).join("/");
}
